import ArgumentParser

@main
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Spool: a Redis-backed job queue for messaging and voice workloads.",
        subcommands: [
            WorkerCommand.self, SchedulerCommand.self, DevCommand.self,
            EnqueueCommand.self, StatsCommand.self, JobCommand.self, CancelCommand.self,
            DeadCommand.self, QueueCommand.self, MigrateCommand.self, BenchCommand.self, HTTPBenchCommand.self, BenchLimitsCommand.self,
            BenchSMSCommand.self, BenchConversationsCommand.self, BenchSchedulesCommand.self, SandboxCommand.self, TenantCommand.self, KeyCommand.self, APICommand.self,
            LimitsCommand.self, ContactsCommand.self, CampaignCommand.self, ConfigCommand.self, NumberCommand.self, ConversationCommand.self,
            UsageCommand.self, ScheduleCommand.self, CalendarCommand.self, BenchCalendarCommand.self, BenchDashboardCommand.self, BenchFailoverCommand.self,
        ]
    )
}
