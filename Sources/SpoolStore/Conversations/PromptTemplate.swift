/// A number's AI system prompt (`sender_numbers.ai_prompt`): a `MessageTemplate` over a fixed set of
/// variables, checked when it is set so that a typo is an error for the operator then, not an empty
/// gap in every reply later.
public enum PromptTemplate {
    public static let variables: Set<String> = ["business_name", "first_name", "now", "date", "time", "weekday", "timezone"]
    public static let maximumCharacters = 20_000

    /// Why `template` cannot be a prompt, naming the variable or the problem (the field, `prompt`, is
    /// the caller's to name); nil when it can.
    public static func problem(_ template: String) -> String? {
        let characters = template.unicodeScalars.count
        guard (1...maximumCharacters).contains(characters) else {
            return "must be 1 to \(maximumCharacters) characters, got \(characters)"
        }
        guard !template.utf8.contains(0) else { return "contains a NUL byte, which cannot be stored" }
        let parsed: MessageTemplate
        do { parsed = try MessageTemplate(template) } catch {
            return error.message.replacing("body: ", with: "")
        }
        if let unknown = parsed.fields.first(where: { !variables.contains($0) }) {
            return "{{\(unknown)}} is not a prompt variable; use \(variables.sorted().map { "{{\($0)}}" }.joined(separator: ", "))"
        }
        return nil
    }
}
