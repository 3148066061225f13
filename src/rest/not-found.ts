import type { FastifyInstance, RouteOptions } from 'fastify'
import { problem, sendProblem } from './problem.js'

/**
 * Requests under the resource that no route takes answer problem+json like the rest of it: 405
 * with Allow when the path exists under other methods, else 404. Call before the routes are
 * declared: it learns them as they are.
 */
export function answerUnknownRoutes(app: FastifyInstance) {
  const routes: { pattern: RegExp; methods: string[] }[] = []
  app.addHook('onRoute', (route: RouteOptions) => {
    // The path exactly as the router takes it: with a trailing slash only where a route has one.
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+')}$`)
    routes.push({ pattern, methods: [route.method].flat() })
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const allowed = [...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods))]
    if (allowed.length === 0) return sendProblem(reply, problem(404, `No resource at ${path}.`))
    reply.header('allow', allowed.sort().join(', '))
    return sendProblem(reply, problem(405, `${request.method} is not allowed here; use ${allowed.sort().join(', ')}.`))
  })
}
