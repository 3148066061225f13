import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { HttpProblem, problem, sendHttpProblem, sendProblem } from './problem.js'

/**
 * Requests under the resource that no route takes answer problem+json like the rest of it: 405
 * with Allow when the path exists under other methods, else 404. Call before the routes are
 * declared: it learns them as they are. Returns the 405 for a fixed path (`…/authenticate`)
 * that a route with a parameter (`…/:credentialId`) took under another method, for that
 * route to answer: the router tries fixed paths first only within one method.
 */
export function answerUnknownRoutes(app: FastifyInstance): (request: FastifyRequest) => HttpProblem | undefined {
  const routes: { pattern: RegExp; methods: string[]; fixed: boolean }[] = []
  app.addHook('onRoute', (route: RouteOptions) => {
    // The path exactly as the router takes it: with a trailing slash only where a route has one.
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+')}$`)
    routes.push({ pattern, methods: [route.method].flat(), fixed: !route.url.includes(':') })
  })
  const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? ''
  /** The methods a path takes; a fixed path's own, when it is one, as the router reads it. */
  const methodsAt = (path: string) => {
    const matching = routes.filter((route) => route.pattern.test(path))
    const fixed = matching.filter((route) => route.fixed)
    return [...new Set((fixed.length > 0 ? fixed : matching).flatMap((route) => route.methods))].sort()
  }
  const notAllowed = (method: string, allowed: string[]) =>
    new HttpProblem(405, `${method} is not allowed here; use ${allowed.join(', ')}.`, undefined, { allow: allowed.join(', ') })

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request)
    const allowed = methodsAt(path)
    if (allowed.length === 0) return sendProblem(reply, problem(404, `No resource at ${path}.`))
    return sendHttpProblem(reply, notAllowed(request.method, allowed))
  })

  return (request) => {
    const path = pathOf(request)
    return routes.some((route) => route.fixed && route.pattern.test(path)) ? notAllowed(request.method, methodsAt(path)) : undefined
  }
}
