import SpoolPostgres

extension ConversationStore {
    /// The latest message of each conversation, either way, by conversation id: what a list of
    /// conversations shows beside each. One statement for a whole page: per conversation, one step
    /// back along each side's index, (conversation_id, created_at, id) for what the contact sent and
    /// (conversation_id, queued_at, id) for what was sent to it, and the later of the two. A
    /// conversation without a message is left out.
    /// - Parameters:
    ///   - conversationIDs: at most `maximumPageSize` ids, as `list` returns them; the caller has
    ///     checked that they are its to see.
    /// Throws `ConversationStoreError.invalid` naming `conversations` for more ids than that.
    public func lastMessages(conversationIDs: [String]) async throws -> [String: Message] {
        guard conversationIDs.count <= Self.maximumPageSize else {
            throw ConversationStoreError.invalid(
                field: "conversations",
                message: "conversations: at most \(Self.maximumPageSize) at a time, got \(conversationIDs.count)")
        }
        // An id with a NUL byte is no conversation's, and could not be sent as a parameter.
        let ids = conversationIDs.filter { !$0.utf8.contains(0) }
        if ids.isEmpty { return [:] }
        let rows = try await pool.withConnection { connection -> [PostgresRow] in
            try connection.query(
                """
                SELECT page.conversation_id, latest.direction, latest.id, latest.author, latest.body, latest.transcripts, latest.media,
                       latest.status, (extract(epoch FROM latest.created_at) * 1000)::bigint AS created_at_ms
                FROM unnest($1::text[]) AS page(conversation_id)
                CROSS JOIN LATERAL (
                    SELECT * FROM (
                        (SELECT 'inbound'::text AS direction, i.id, 'contact'::text AS author, i.body, i.transcripts::text AS transcripts,
                                i.media::text AS media, i.transcription_status AS status, i.created_at
                         FROM inbound_messages i WHERE i.conversation_id = page.conversation_id
                         ORDER BY i.created_at DESC, i.id DESC LIMIT 1)
                        UNION ALL
                        (SELECT 'outbound'::text, m.id, m.author, m.body, NULL::text, '[]'::text, m.status, m.queued_at
                         FROM messages m WHERE m.conversation_id = page.conversation_id
                         ORDER BY m.queued_at DESC, m.id DESC LIMIT 1)
                    ) sides
                    ORDER BY created_at DESC, id DESC LIMIT 1
                ) latest
                """, [PostgresArray(ids)]
            ).rows
        }
        var latest: [String: Message] = [:]
        for row in rows {
            guard let conversationID = try row.string("conversation_id") else { continue }
            latest[conversationID] = try Self.message(row)
        }
        return latest
    }
}
