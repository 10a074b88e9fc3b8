/// Spool's record ids as the tenant pages take them from a path, a query or a form (`cmp_…`, `cv_…`,
/// `cal_…`, `tn_…`): 1 to 64 letters, digits, underscores and hyphens. Anything else names no record
/// and is answered before any read, so that no odd byte reaches a statement or a page.
enum DashboardRecordID {
    static func isPlausible(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45
            }
    }
}
