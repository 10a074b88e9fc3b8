/// The page that asks before a destructive action (deleting a schedule, pausing a tenant): what will
/// happen, and one form that posts the action again with `confirm=yes`. Without that field the action
/// answers this page and does nothing, so a stray click or a replayed form changes nothing.
struct DashboardConfirmation: Sendable {
    let heading: String
    let message: String
    /// The button's words, e.g. "Delete the schedule".
    let button: String
    let form: DashboardFormAction
    let cancelHref: String

    static let field = "confirm"
    static let yes = "yes"

    /// Whether a posted form carries the confirmation.
    static func isConfirmed(_ form: DashboardForm) -> Bool { form[field] == yes }
}
