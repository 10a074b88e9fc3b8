/// A signed-in dashboard request, as `DashboardSessionCheck` found it: what every page and action
/// handler starts from (`context.visit()`).
struct DashboardVisit: Sendable {
    let session: DashboardSession
    let principal: Principal
    /// A POST's form fields, its CSRF token already checked; empty for a GET.
    let form: DashboardForm

    /// What a form that posts to `path` needs: its action and its CSRF token (`csrf` hidden field).
    func formAction(_ path: String) -> DashboardFormAction {
        DashboardFormAction(action: path, csrf: session.csrfToken(for: path))
    }

    /// For what only the operator sees (queues, shared by every tenant): a tenant admin gets 404, as
    /// the API answers for what is not a tenant's own.
    func requireOperator() throws(DashboardRefusal) {
        guard principal.isOperator else { throw .notFound }
    }
}

/// A form's action path and the CSRF token for it, as templates print them:
/// `<form method="post" action="{{action}}"><input type="hidden" name="csrf" value="{{csrf}}">`.
struct DashboardFormAction: Sendable, Equatable {
    let action: String
    let csrf: String
}

extension APIContext {
    /// The signed-in visit; a route reached without `DashboardSessionCheck` is refused as signed out.
    func visit() throws(DashboardRefusal) -> DashboardVisit {
        guard let dashboard else { throw .signedOut }
        return dashboard
    }
}
