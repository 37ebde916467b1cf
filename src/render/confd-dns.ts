/**
 * confd's DNS functions over one render's lookup table (lookup.ts), with confd's semantics: lookupIP gives the
 * addresses sorted as strings, lookupIPV4 and lookupIPV6 those with a `.` or a `:`, lookupSRV the records as Go's
 * *net.SRV (`.Target` with its trailing dot, `.Port`, `.Priority`, `.Weight`) in confd's order. A name that
 * does not exist gives an empty list, as in confd (which drops the error); no answer at all fails the render.
 */
import { str } from './confd-functions';
import { GoStruct, compareBytes } from './go/value';
import type { Lookups } from './lookup';

/** Go's net.SRV, which confd's lookupSRV gives as pointers (`{{.}}` prints `{target. 2379 0 10}`). */
export class NetSRV extends GoStruct {
  constructor(
    readonly Target: string,
    readonly Port: number,
    readonly Priority: number,
    readonly Weight: number,
  ) {
    super();
  }
  goFields(): unknown[] {
    return [this.Target, this.Port, this.Priority, this.Weight];
  }
  goType(): string {
    return '*net.SRV';
  }
}

/** confd's sort key: target, port, priority and weight printed one after the other, compared as strings. */
const srvKey = (r: NetSRV): string => `${r.Target}${r.Port}${r.Priority}${r.Weight}`;

/** The DNS functions of the `confd` local over `lookups`. */
export function confdDns(lookups: Lookups) {
  return {
    lookupIP: (name: unknown): string[] => lookups.ip(str('lookupIP', name)),
    lookupIPV4: (name: unknown): string[] => lookups.ip(str('lookupIPV4', name)).filter((a) => a.includes('.')),
    lookupIPV6: (name: unknown): string[] => lookups.ip(str('lookupIPV6', name)).filter((a) => a.includes(':')),
    /** Go's net.LookupSRV: `_service._proto.name`, or `name` alone when service and proto are both empty. */
    lookupSRV(service: unknown, proto: unknown, name: unknown): NetSRV[] {
      const [s, p, n] = [str('lookupSRV', service), str('lookupSRV', proto), str('lookupSRV', name)];
      const record = s === '' && p === '' ? n : `_${s}._${p}.${n}`;
      return lookups
        .srv(record)
        .map((r) => new NetSRV(r.name === '' ? '.' : `${r.name}.`, r.port, r.priority, r.weight))
        .sort((a, b) => compareBytes(srvKey(a), srvKey(b)));
    },
  };
}

/** The names of confd's DNS functions. */
export const DNS_FUNCTIONS: readonly string[] = ['lookupIP', 'lookupIPV4', 'lookupIPV6', 'lookupSRV'];
