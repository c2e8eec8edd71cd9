/**
 * Where the server's CPU time goes, from a V8 .cpuprofile (node --cpu-prof):
 * each sample is charged to a layer by the innermost library or source frame
 * on its stack (so a socket write pg issues is the driver's), else by the
 * innermost Node frame.
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
  {
    layer: "database driver: pg (incl. its socket writes)",
    test: (u) => /\/node_modules\/pg(-[a-z]+)?\//.test(u),
  },
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
  const isCode = (url: string) => url.includes("/node_modules/") || url.includes("/src/");
  const layerCache = new Map<number, string>();
  /**
   * The innermost frame from a library or our source decides (a socket write
   * issued by pg is the driver's cost); without one, the innermost Node frame.
   */
  const layerOf = (sampled: number): string => {
    const cached = layerCache.get(sampled);
    if (cached !== undefined) {
      return cached;
    }
    const name = byId.get(sampled)?.callFrame.functionName ?? "";
    let layer = Object.hasOwn(SPECIAL, name) ? SPECIAL[name] : undefined;
    let nodeUrl: string | undefined;
    for (
      let id: number | undefined = sampled;
      layer === undefined && id !== undefined;
      id = parent.get(id)
    ) {
      const url = byId.get(id)?.callFrame.url ?? "";
      if (isCode(url)) {
        layer = LAYERS.find((l) => l.test(url))?.layer ?? "service: other source";
      } else if (nodeUrl === undefined && url.startsWith("node:")) {
        nodeUrl = url;
      }
    }
    layer ??=
      nodeUrl === undefined
        ? "V8/native (program)"
        : (LAYERS.find((l) => l.test(nodeUrl))?.layer ?? "V8/native (program)");
    layerCache.set(sampled, layer);
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
