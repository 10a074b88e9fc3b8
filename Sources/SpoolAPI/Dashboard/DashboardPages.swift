import HTTPTypes
import Hummingbird
import Mustache

/// Renders pages inside the layout. The template sees one object: `layout` (a `DashboardLayout`) and
/// `page` (the page's own view, a struct whose properties the template names). Mustache's `{{ }}`
/// escapes every value as HTML; no template uses `{{{ }}}`.
struct DashboardPages: Sendable {
    let library: MustacheLibrary

    struct Document<Page> {
        let layout: DashboardLayout
        let page: Page
    }

    func render<Page>(_ template: DashboardTemplate, page: Page, layout: DashboardLayout, status: HTTPResponse.Status = .ok) -> Response {
        guard let html = library.render(Document(layout: layout, page: page), withTemplate: template.rawValue) else {
            preconditionFailure("the dashboard's library has no template \(template.rawValue)")
        }
        return DashboardResponse.html(html, status: status)
    }

    func refusal(_ refusal: DashboardRefusal) -> Response {
        render(.refused, page: refusal, layout: .signedOut, status: refusal.status)
    }
}
