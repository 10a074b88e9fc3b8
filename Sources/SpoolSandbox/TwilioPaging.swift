import SpoolHTTP
import SpoolSupport

/// Twilio's list paging, as its SDKs follow it: `PageSize` (50 by default, 1 to 1000), `Page`
/// (from 0) and `PageToken` (`PA{sid}`: the page after that item; `PB{sid}`: the page before it),
/// answered with the records under their key and `page`, `page_size`, `start`, `end`, `uri`,
/// `first_page_uri`, `next_page_uri` and `previous_page_uri` (null at either end). Every other key
/// of the answer is one the SDKs know as paging, so that they find the records under the only other one.
enum TwilioPaging {
    static let defaultPageSize = 50
    static let maximumPageSize = 1000

    /// One page of `items` (newest first, filtered already), each named by `sid` and written by
    /// `resource` (only the page's are). `filters` are the query's filters, in the order the page URIs
    /// repeat them.
    static func page<Item>(
        _ items: [Item], sid: (Item) -> String, resource: (Item) -> JSONValue, key: String, path: String, query: [String: String],
        filters: [(String, String)]
    ) -> JSONValue {
        let pageSize = min(max(Int(query["PageSize"] ?? "") ?? defaultPageSize, 1), maximumPageSize)
        // Bounded, so that `page * pageSize` cannot overflow.
        let page = min(max(Int(query["Page"] ?? "") ?? 0, 0), 10_000_000)
        var start = min(page * pageSize, items.count)
        if let token = query["PageToken"], token.count > 2 {
            let wanted = String(token.dropFirst(2))
            if let index = items.firstIndex(where: { sid($0) == wanted }) {
                if token.hasPrefix("PA") {
                    start = index + 1
                } else if token.hasPrefix("PB") {
                    start = max(0, index - pageSize)
                }
            }
        }
        let end = min(start + pageSize, items.count)
        let records = items[start..<end].map(resource)

        func uri(page: Int, token: String?) -> JSONValue {
            var fields = filters
            fields.append(("PageSize", String(pageSize)))
            fields.append(("Page", String(page)))
            if let token { fields.append(("PageToken", token)) }
            return .string(path + "?" + FormEncoding.encode(fields))
        }
        let next: JSONValue = end < items.count ? uri(page: page + 1, token: "PA" + sid(items[end - 1])) : .null
        let previous: JSONValue =
            start > 0 ? uri(page: max(page - 1, 0), token: start < items.count ? "PB" + sid(items[start]) : nil) : .null
        return .object([
            key: .array(records),
            "page": .number(Double(page)), "page_size": .number(Double(pageSize)),
            "start": .number(Double(start)), "end": .number(Double(max(start, end - 1))),
            "uri": uri(page: page, token: query["PageToken"]), "first_page_uri": uri(page: 0, token: nil),
            "next_page_uri": next, "previous_page_uri": previous,
        ])
    }
}
