/**
 * Browser code that Swagger UI's page loads after its bundle and before it starts (a theme
 * script of @fastify/swagger-ui). It wraps SwaggerUIBundle so that the page:
 * - loads and shows the document at /openapi.json, the one SDKs are generated from;
 * - keeps the secret given in "Authorize" only in the page's memory: persistAuthorization would
 *   write it to localStorage, in plain text, for anyone with the browser profile later (and what
 *   an earlier version of this page saved there is removed);
 * - marks its requests `X-Requested-With: XMLHttpRequest`, so an unauthorized "Execute" gets its
 *   401 problem without a Basic challenge (which would open the browser's password dialog);
 * - shows api.php's form body as form fields: the document describes it as one schema per
 *   action (anyOf), which Swagger UI can only edit as raw text, so the page is given the
 *   union of their fields, as strings, the way a form sends them;
 * - leaves api.php's empty fields out (Swagger UI would send them empty, and an empty field
 *   means "clear it" to some actions), and sends the credential given in "Authorize" as its
 *   `identifier` and `secret` fields when the form has none (api.php reads them from the body).
 * Plain browser JavaScript, served as it is written here.
 */
export const SWAGGER_UI_SETUP = `(() => {
  const DOCUMENT = '/openapi.json'
  const LEGACY_PATH = '/includes/api.php'
  const FORM = 'application/x-www-form-urlencoded'
  const original = window.SwaggerUIBundle
  try {
    localStorage.removeItem('authorized')
  } catch {
    // Storage refused (a private window): nothing was saved there either.
  }
  let ui
  window.SwaggerUIBundle = Object.assign(
    (config) => (ui = original({ ...config, url: DOCUMENT, persistAuthorization: false, requestInterceptor, responseInterceptor })),
    original,
  )

  function requestInterceptor(request) {
    request.headers['X-Requested-With'] = 'XMLHttpRequest'
    if (new URL(request.url, location.href).pathname === LEGACY_PATH) addLegacyCredentials(request)
    return request
  }

  function addLegacyCredentials(request) {
    if (typeof request.body !== 'string') return
    const form = new URLSearchParams(request.body)
    for (const [name, value] of [...form]) if (value === '') form.delete(name)
    const basic = ui && ui.authSelectors.authorized().getIn(['basicAuth', 'value'])
    if (basic && !form.get('identifier') && !form.get('username')) {
      form.set('identifier', basic.get('username'))
      form.set('secret', basic.get('password'))
    }
    request.body = form.toString()
  }

  function responseInterceptor(response) {
    if (response.ok && new URL(response.url, location.href).pathname === DOCUMENT) {
      const document = JSON.parse(response.text)
      const legacy = document.paths && document.paths[LEGACY_PATH] && document.paths[LEGACY_PATH].post
      const actions = document.components && document.components.schemas && document.components.schemas.LegacyRequest
      if (legacy && actions && actions.anyOf) {
        legacy.requestBody.content = { [FORM]: { schema: formOf(actions.anyOf) } }
        response.text = JSON.stringify(document)
        response.body = response.obj = document
      }
    }
    return response
  }

  function formOf(variants) {
    const properties = { action: { type: 'string', enum: variants.map((variant) => variant.title) } }
    for (const variant of variants) {
      for (const [name, schema] of Object.entries(variant.properties)) {
        if (properties[name]) continue
        const choices = (schema.anyOf || [schema]).flatMap((choice) => choice.enum || [])
        properties[name] = { type: 'string', description: schema.description, ...(choices.length ? { enum: choices } : { example: '' }) }
      }
    }
    return { type: 'object', required: ['action'], properties }
  }
})()
`
