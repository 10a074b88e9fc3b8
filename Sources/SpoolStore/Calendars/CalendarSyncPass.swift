/// What a sync job works from (`CalendarConnectionStore.beginSync`): a new pass, or the one a crash cut
/// short, resumed from its saved page with its generation.
public struct CalendarSyncPass: Sendable, Equatable {
    public let connectionID: String
    public let tenantID: String
    public let calendarID: String
    /// The sync token to list changes since; nil: a full sync (the first, or after a 410).
    public let syncToken: String?
    /// The page to fetch next; nil: the first page.
    public let pageToken: String?
    /// Stamped on every appointment this pass sees; `savePage` and `finishSync` must give it back.
    public let generation: Int64
    /// Whether this is a pass a crash (or a failure) cut short, taken up again.
    public let resumed: Bool

    public var isFullSync: Bool { syncToken == nil }
}
