import net from 'node:net'

export interface TcpProxy {
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string
  /** The database goes away: open connections are dropped and new ones refused. */
  cut(): Promise<void>
  /** The database hangs: connections stay open (new ones are accepted) but no byte gets through. */
  stall(): Promise<void>
  /**
   * The database holds: every connection stays open and new ones are accepted, but bytes are
   * kept, in both directions, until `release`. Nothing is closed.
   */
  hold(): void
  /** The held bytes are delivered, in order, and forwarding goes on: as a paused server resuming. */
  release(): void
  /** The database is back: new connections are forwarded again; open ones are dropped. */
  restore(): Promise<void>
  /**
   * How many times a client's bytes reached the proxy on their way to the target so far. A
   * client waiting for an answer before it asks again shows each round trip as one.
   */
  sends(): number
  close(): Promise<void>
}

/**
 * A TCP forwarder on 127.0.0.1 that a test controls, so the app can lose its database and get
 * it back while the real server keeps running for everyone else.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let forwarding = true
  let holding = false
  const held: { to: net.Socket; chunk: Buffer }[] = []
  let sends = 0
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (holding) held.push({ to, chunk })
      else if (forwarding) to.write(chunk)
    })
    from.on('close', () => to.destroy())
  }
  const server = net.createServer((client) => {
    track(client)
    if (!forwarding) return
    const upstream = net.connect(target)
    track(upstream)
    client.on('data', () => sends++)
    forward(client, upstream)
    forward(upstream, client)
  })
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  const dropAll = () => {
    for (const socket of sockets) socket.destroy()
  }
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      dropAll()
    })

  await listen(0)
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    via(url) {
      const proxied = new URL(url)
      proxied.hostname = '127.0.0.1'
      proxied.port = String(port)
      return proxied.toString()
    },
    cut: stopListening,
    hold() {
      holding = true
    },
    release() {
      holding = false
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
    async stall() {
      forwarding = false
      if (!server.listening) await listen(port)
    },
    async restore() {
      forwarding = true
      dropAll()
      if (!server.listening) await listen(port)
    },
    sends: () => sends,
    close: stopListening,
  }
}
