/**
 * Docker containers as template data (docker-gen, docker-pygen): the running containers that match a target's
 * filters, read through the Docker Engine API with dockerode, in the shape templates use.
 */
import Docker from 'dockerode';
import { errorMessage } from '../errors';

import type { DockerOptions } from '../target';

export type { DockerOptions } from '../target';

export interface ContainerPort {
  /** The port inside the container. */
  port: number;
  proto: 'tcp' | 'udp';
  /** Where it is published on the host, if it is. */
  hostPort?: number;
  hostIp?: string;
}

export interface Container {
  id: string;
  /** The first 12 characters of the id, as `docker ps` shows. */
  shortId: string;
  name: string;
  image: string;
  /** "running", "exited", ... */
  state: string;
  /** "Up 5 minutes", ... */
  status: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  /** Network name -> the container's IP address on it. */
  networks: Record<string, string>;
  /** The first IP address (docker-pygen's container.ip), or "" if it has none. */
  ip: string;
  /** Exposed ports, TCP first, lowest first. */
  ports: ContainerPort[];
  tcpPorts: number[];
  udpPorts: number[];
  /** The first exposed TCP port (or UDP, if there is no TCP), or undefined. */
  port?: number;
}

export function dockerClient(socket: string): Docker {
  return new Docker({ socketPath: socket });
}

function envMap(env: readonly string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

/** The running containers that match, read once through a client of their own (--onetime, `render`). */
export function listContainersOnce(opts: DockerOptions): Promise<Container[]> {
  return listContainers(dockerClient(opts.socket), opts);
}

/** The running containers that match, sorted by name, each inspected for its environment. */
export async function listContainers(docker: Docker, opts: DockerOptions): Promise<Container[]> {
  let list: Docker.ContainerInfo[];
  try {
    list = await docker.listContainers({ filters: JSON.stringify({ ...opts.filters, status: ['running'] }) });
  } catch (err) {
    // Node's own message repeats the path ("connect ENOENT /run/docker.sock"): name the socket once.
    const why = errorMessage(err).replace(` ${opts.socket}`, '');
    throw new Error(`Docker API on ${opts.socket}: cannot list containers: ${why}`, { cause: err });
  }
  const out = await Promise.all(
    list.map(async (c): Promise<Container | null> => {
      let env: Record<string, string> = {};
      try {
        env = envMap((await docker.getContainer(c.Id).inspect()).Config.Env);
      } catch {
        return null; // it went away between the list and the inspect
      }
      const networks: Record<string, string> = {};
      for (const [name, n] of Object.entries(c.NetworkSettings?.Networks ?? {})) if (n.IPAddress) networks[name] = n.IPAddress;
      const ports: ContainerPort[] = [];
      const seen = new Set<string>();
      for (const p of c.Ports ?? []) {
        const proto = p.Type === 'udp' ? 'udp' : 'tcp';
        const k = `${p.PrivatePort}/${proto}/${p.PublicPort ?? ''}`;
        if (seen.has(k)) continue;
        seen.add(k);
        ports.push({ port: p.PrivatePort, proto, ...(p.PublicPort ? { hostPort: p.PublicPort } : {}), ...(p.IP ? { hostIp: p.IP } : {}) });
      }
      ports.sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto === 'tcp' ? -1 : 1));
      const tcpPorts = [...new Set(ports.filter((p) => p.proto === 'tcp').map((p) => p.port))];
      const udpPorts = [...new Set(ports.filter((p) => p.proto === 'udp').map((p) => p.port))];
      return {
        id: c.Id,
        shortId: c.Id.slice(0, 12),
        name: (c.Names?.[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        state: c.State,
        status: c.Status,
        labels: c.Labels ?? {},
        env,
        networks,
        ip: Object.values(networks)[0] ?? '',
        ports,
        tcpPorts,
        udpPorts,
        port: tcpPorts[0] ?? udpPorts[0],
      };
    }),
  );
  return out.filter((c): c is Container => c !== null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
