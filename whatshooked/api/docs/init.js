// The interactive docs of this daemon's own API: /api/openapi.json, read and tried with the
// credentials the browser already holds for this page (same origin, so the origin rule lets it through).
window.ui = SwaggerUIBundle({
  url: window.location.origin + "/api/openapi.json",  // absolute: a page opened as http://user:pass@host/docs
                                                        // would otherwise resolve it with those credentials, which fetch refuses
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  tryItOutEnabled: false,
  requestInterceptor: function (request) { request.credentials = "same-origin"; return request; },
});
