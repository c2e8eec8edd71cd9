/**
 * Where the server's CPU time goes, from a V8 .cpuprofile (node --cpu-prof):
 * each sample's self time is charged to a layer by the source of its
 * function; native frames (no source) to the nearest caller that has one.
 */
import { readFile } from "node:fs/promises";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const LAYERS: readonly { readonly layer: string; readonly test: (url: string) => boolean }[] = [
  { layer: "RPC: protobuf encode/decode", test: (u) => u.includes("/@bufbuild/protobuf/") },
  { layer: "RPC: connect (protocols, routing)", test: (u) => u.includes("/@connectrpc/") },
  {
    layer: "RPC: Node HTTP/2, sockets, streams",
    test: (u) =>
      /^node:(internal\/)?(http2|_http|http|net|stream|internal\/streams|tls|dns)/.test(u),
  },
  { layer: "service: src/rpc (mapping, call log)", test: (u) => u.includes("/src/rpc/") },
  { layer: "service: src/server", test: (u) => u.includes("/src/server/") },
  { layer: "service: src/domain", test: (u) => u.includes("/src/domain/") },
  { layer: "service: src/store (SQL, unit of work)", test: (u) => u.includes("/src/store/") },
  {
    layer: "ORM: MikroORM + kysely",
    test: (u) => u.includes("/@mikro-orm/") || u.includes("/kysely/"),
  },
  { layer: "database driver: pg", test: (u) => /\/node_modules\/pg(-[a-z]+)?\//.test(u) },
  { layer: "logging: pino", test: (u) => u.includes("/pino") || u.includes("/sonic-boom/") },
  {
    layer: "ids: uuid, crypto",
    test: (u) =>
      u.includes("/uuid/") || u.startsWith("node:crypto") || u.startsWith("node:internal/crypto"),
  },
  { layer: "other libraries", test: (u) => u.includes("/node_modules/") },
  {
    layer: "Node internals (promises, AbortSignal/DOMException, events, fs)",
    test: (u) => u.startsWith("node:"),
  },
];

const SPECIAL: Readonly<Record<string, string>> = {
  "(garbage collector)": "garbage collection",
  "(idle)": "idle",
  "(program)": "V8/native (program)",
  "(root)": "V8/native (program)",
};

export interface LayerShare {
  readonly layer: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly percent: number;
}

export async function summariseProfile(file: string): Promise<LayerShare[]> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parent.set(child, node.id);
    }
  }
  const layerCache = new Map<number, string>();
  const layerOf = (id: number): string => {
    const cached = layerCache.get(id);
    if (cached !== undefined) {
      return cached;
    }
    const node = byId.get(id);
    const name = node?.callFrame.functionName ?? "";
    const url = node?.callFrame.url ?? "";
    let layer = Object.hasOwn(SPECIAL, name) ? SPECIAL[name] : undefined;
    if (layer === undefined && url !== "") {
      layer = LAYERS.find((l) => l.test(url))?.layer ?? "service: other source";
    }
    if (layer === undefined) {
      const up = parent.get(id);
      layer = up === undefined ? "V8/native (program)" : layerOf(up);
    }
    layerCache.set(id, layer);
    return layer;
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const layer = layerOf(id);
    totals.set(layer, (totals.get(layer) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const busy = [...totals]
    .filter(([layer]) => layer !== "idle")
    .reduce((sum, [, ms]) => sum + ms, 0);
  return [...totals]
    .filter(([layer]) => layer !== "idle")
    .map(([layer, ms]) => ({
      layer,
      ms: Math.round(ms),
      percent: Math.round((ms / busy) * 1000) / 10,
    }))
    .sort((a, b) => b.ms - a.ms);
}
