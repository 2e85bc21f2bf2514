// Open connections per client address. A workspace pod reaches the
// receiver's Service and can open sockets that never finish a request: each
// holds about 8 KiB of the replica's memory until REQUEST_TIMEOUT_MS, checked
// every 30 s by Node, closes it (8,000 of them took a receiver from 77 to 143
// MiB), and one pod could keep tens of thousands open. Past
// MAX_CONNECTIONS_PER_PEER sockets from one address, a new one is closed as
// soon as it is accepted; a shipper uses a few. A proxy named in TRUST_PROXY
// carries many clients on its connections, so its own are not counted.

import { BlockList, isIPv4, type Server, type Socket } from 'node:net';

/** An address that keeps being refused is reported again after this long, never more often: its attempts are not to flood the logs. */
const REPORT_EVERY_MS = 60_000;

export interface PeerConnectionOptions {
  max: number;
  /** Addresses and CIDRs not counted: TRUST_PROXY's entries. */
  exempt: string[];
  /** A connection from `address` was closed at once; `report` on the first of a minute for that address. */
  onRefused(address: string, report: boolean): void;
  now?: () => number;
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
  const now = o.now ?? Date.now;
  const open = new Map<string, number>();
  /** When each refused address was last reported; kept a minute, so its size is the addresses refused in one. */
  const reported = new Map<string, number>();
  const exempt = exemptList(o.exempt);

  function isReport(address: string, t: number): boolean {
    const last = reported.get(address);
    if (last !== undefined && t - last < REPORT_EVERY_MS) return false;
    for (const [a, at] of reported) if (t - at >= REPORT_EVERY_MS) reported.delete(a);
    reported.set(address, t);
    return true;
  }

  server.on('connection', (socket: Socket) => {
    const address = peerAddress(socket);
    if (address === undefined || exempt(address)) return;
    const held = open.get(address) ?? 0;
    if (held >= o.max) {
      o.onRefused(address, isReport(address, now()));
      socket.destroy();
      return;
    }
    open.set(address, held + 1);
    socket.once('close', () => {
      const left = open.get(address)! - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
