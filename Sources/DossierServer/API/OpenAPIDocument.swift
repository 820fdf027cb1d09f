/// The OpenAPI 3.1 description of the API, served at /openapi.json (schemathesis checks every
/// response against it in tools/test).
enum OpenAPIDocument {
    static let text = #"""
    {"openapi": "3.1.0", "info": {"title": "Dossier", "version": "1"}, "paths": {}}
    """#
}
