extension StringProtocol {
    /// Without leading and trailing spaces and tabs: how HTTP header values and parameters are read.
    public var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
