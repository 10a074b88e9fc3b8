import NIOCore
import NIOHTTPTypes

/// Counts connections (so tests can see that clients reuse them) and applies the `drop_rate` fault:
/// closing a connection on a request's head, before any answer, the way a crashed load balancer does.
/// Lives in the channel pipeline because a route handler cannot close its connection.
final class ConnectionFaultHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let state: SandboxState
    private var dropping = false

    init(state: SandboxState) { self.state = state }

    func channelActive(context: ChannelHandlerContext) {
        state.withStore { $0.counters.connectionsOpened += 1 }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if dropping { return }
        if case .head(let head) = unwrapInboundIn(data), state.shouldDrop(path: head.path ?? "") {
            dropping = true
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
