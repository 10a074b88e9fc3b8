import HTTPTypes
import Hummingbird
import NIOCore
import SpoolSupport

/// The dashboard's stylesheet and script, compiled in and served by Spool itself (no CDN). Their URLs
/// carry a hash of their content (`?v=`), so a browser may keep them a year and still fetches the
/// new one after an upgrade. They need no session: the login page uses them.
enum DashboardAsset: CaseIterable, Sendable {
    case stylesheet
    case script

    var path: String {
        switch self {
        case .stylesheet: "/dashboard/assets/dashboard.css"
        case .script: "/dashboard/assets/dashboard.js"
        }
    }

    var contentType: String {
        switch self {
        case .stylesheet: "text/css; charset=utf-8"
        case .script: "text/javascript; charset=utf-8"
        }
    }

    var bytes: [UInt8] {
        switch self {
        case .stylesheet: PackageResources.dashboard_css
        case .script: PackageResources.dashboard_js
        }
    }

    /// The path with the content's hash, as pages link it.
    var url: String { path + "?v=" + (Self.versions[self] ?? "") }

    private static let versions = Dictionary(
        uniqueKeysWithValues: DashboardAsset.allCases.map { ($0, String(Hashing.sha256Hex($0.bytes).prefix(12))) })
}

enum DashboardAssets {
    static func register(on group: RouterGroup<APIContext>) {
        for asset in DashboardAsset.allCases {
            let response = Self.response(asset)
            group.get(RouterPath(String(asset.path.dropFirst("/dashboard".count)))) { _, _ in response }
        }
    }

    private static func response(_ asset: DashboardAsset) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "public, max-age=31536000, immutable"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
