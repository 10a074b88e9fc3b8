/// A number's AI system prompt (`sender_numbers.ai_prompt`): a `MessageTemplate` over a fixed set of
/// variables, checked when it is set so that a typo is an error for the operator then, not an empty
/// gap in every reply later.
public enum PromptTemplate {
    public static let variables: Set<String> = ["business_name", "first_name", "now", "date", "time", "weekday", "timezone"]
    public static let maximumCharacters = 20_000

    /// Why `template` cannot be a prompt, naming the variable or the problem (the field, `prompt`, is
    /// the caller's to name); nil when it can.
    public static func problem(_ template: String) -> String? {
        MessageTemplate.problem(template, variables: variables, maximumCharacters: maximumCharacters, what: "a prompt variable")
    }
}
