// Open connections per client address. A workspace pod reaches the
// receiver's Service and can open sockets that never finish a request: each
// holds about 8 KiB of the replica's memory until REQUEST_TIMEOUT_MS, checked
// every 30 s by Node, closes it (8,000 of them took a receiver from 77 to 143
// MiB), and one pod could keep tens of thousands open. Past
// MAX_CONNECTIONS_PER_PEER sockets from one address, a new one is closed as
// soon as it is accepted; a shipper uses a few. A proxy named in TRUST_PROXY
// carries many clients on its connections, so its own are not counted.

import { BlockList, isIPv4, type Server, type Socket } from 'node:net';

export interface PeerConnectionOptions {
  max: number;
  /** Addresses and CIDRs not counted: TRUST_PROXY's entries. */
  exempt: string[];
  /** A connection from `address` was closed at once; `first` since that address last held fewer than `max`. */
  onRefused(address: string, first: boolean): void;
}

/** A socket's peer, IPv4 as such even when it came in on an IPv6 listener. */
function peerAddress(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function exemptList(entries: string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (address) => list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

export function capConnectionsPerPeer(server: Server, o: PeerConnectionOptions): void {
  const open = new Map<string, number>();
  const refusing = new Set<string>();
  const exempt = exemptList(o.exempt);
  server.on('connection', (socket: Socket) => {
    const address = peerAddress(socket);
    if (address === undefined || exempt(address)) return;
    const held = open.get(address) ?? 0;
    if (held >= o.max) {
      o.onRefused(address, !refusing.has(address));
      refusing.add(address);
      socket.destroy();
      return;
    }
    open.set(address, held + 1);
    socket.once('close', () => {
      const left = open.get(address)! - 1;
      if (left < o.max) refusing.delete(address);
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
