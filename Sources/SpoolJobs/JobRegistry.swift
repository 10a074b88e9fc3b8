import SpoolQueue

/// Every job kind this build can run, by name. Each one must be declared in `Jobs/<kind>.json`, and
/// every declaration must have its handler here: `checkHandlers` stops a process that disagrees.
public enum JobRegistry {
    /// The handlers, built on a worker's services; nil services give handlers that can only be
    /// checked against the declarations, not run.
    public static func handlers(_ services: JobServices?) -> [any JobHandler] {
        [
            NoopHandler(),
            SendHandler(services: services),
            TranscriptionHandler(services: services),
            AIReplyHandler(services: services),
            RetentionHandler(services: services),
            CampaignLaunchHandler(services: services),
            CalendarSyncHandler(services: services),
            AppointmentReminderHandler(services: services),
        ]
    }
}
