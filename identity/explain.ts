/**
 * Explanations over plain data, with graphology: a profile's graph (its identifiers as nodes, the
 * stored edges as parallel edges per source), the shortest chain of edges between two of its
 * identifiers ("why are these the same person?"), and a summary of the graph with the links the
 * rules refused. The repository loads the rows; nothing here does I/O.
 */
import { MultiUndirectedGraph } from 'graphology';
import { parseIdentifierKey } from './identifier.ts';
import type { EdgeDelta, RejectedLink } from './resolution-diff.ts';

export interface ProfileNode {
  type: string;
  value: string;
  firstSeen?: number;
}

export interface ProfileEdge {
  source: string;
  firstSeen: number;
  firstRecordId: string;
  lastSeen: number;
  count: number;
}

export type ProfileGraph = MultiUndirectedGraph<ProfileNode, ProfileEdge>;

/** One step of an explanation: `from` and `to` occurred together in `count` records of `source`. */
export interface PathStep extends ProfileEdge {
  from: string;
  to: string;
}

/**
 * Builds the graph of a profile. `identifiers` are keys or `{ key, firstSeen }`; edges whose ends
 * are not among them are added with their ends (so a partial list still explains).
 */
export function buildProfileGraph(
  identifiers: readonly (string | { key: string; firstSeen?: number })[],
  edges: readonly Pick<EdgeDelta, 'a' | 'b' | 'source' | 'firstSeen' | 'firstRecordId' | 'lastSeen' | 'count'>[],
): ProfileGraph {
  const graph: ProfileGraph = new MultiUndirectedGraph<ProfileNode, ProfileEdge>({ allowSelfLoops: false });
  const addNode = (key: string, firstSeen?: number) => {
    if (graph.hasNode(key)) return;
    const { type, value } = parseIdentifierKey(key);
    graph.addNode(key, firstSeen === undefined ? { type, value } : { type, value, firstSeen });
  };
  for (const item of identifiers) {
    if (typeof item === 'string') addNode(item);
    else addNode(item.key, item.firstSeen);
  }
  for (const e of edges) {
    if (e.a === e.b) continue;
    addNode(e.a);
    addNode(e.b);
    graph.addEdge(e.a, e.b, { source: e.source, firstSeen: e.firstSeen, firstRecordId: e.firstRecordId, lastSeen: e.lastSeen, count: e.count });
  }
  return graph;
}

/** Of the parallel edges between two nodes, the one to show: earliest first seen, then most records. */
function bestEdge(graph: ProfileGraph, a: string, b: string): ProfileEdge {
  let best: ProfileEdge | undefined;
  for (const edge of graph.edges(a, b)) {
    const attrs = graph.getEdgeAttributes(edge);
    if (!best || attrs.firstSeen < best.firstSeen || (attrs.firstSeen === best.firstSeen && attrs.count > best.count)) best = attrs;
  }
  return best as ProfileEdge;
}

/**
 * The shortest chain of edges from `from` to `to` (fewest hops; among equal lengths, neighbours are
 * explored in key order, so the answer is stable). `[]` when from === to, null when not connected
 * or unknown.
 */
export function explainPath(graph: ProfileGraph, from: string, to: string): PathStep[] | null {
  if (!graph.hasNode(from) || !graph.hasNode(to)) return null;
  if (from === to) return [];
  const previous = new Map<string, string>([[from, from]]);
  let frontier = [from];
  while (frontier.length > 0 && !previous.has(to)) {
    const next: string[] = [];
    for (const node of frontier) {
      const neighbours = graph.neighbors(node).sort();
      for (const n of neighbours) {
        if (previous.has(n)) continue;
        previous.set(n, node);
        next.push(n);
      }
    }
    frontier = next;
  }
  if (!previous.has(to)) return null;
  const chain: string[] = [to];
  for (let node = to; node !== from; ) {
    node = previous.get(node) as string;
    chain.push(node);
  }
  chain.reverse();
  const steps: PathStep[] = [];
  for (let i = 0; i + 1 < chain.length; i++) {
    const a = chain[i] as string;
    const b = chain[i + 1] as string;
    steps.push({ from: a, to: b, ...bestEdge(graph, a, b) });
  }
  return steps;
}

export interface ProfileExplanation {
  identifiers: { key: string; type: string; value: string; firstSeen?: number; degree: number }[];
  edges: (ProfileEdge & { a: string; b: string })[];
  /** Refused links that involve one of the profile's identifiers. */
  refused: RejectedLink[];
  /** Connected pieces of the graph; 1 for a consistent profile. */
  pieces: number;
}

/** The profile's subgraph as plain data, with the refused links that touch it. */
export function explainProfile(graph: ProfileGraph, rejectedLinks: readonly RejectedLink[] = []): ProfileExplanation {
  const identifiers = graph
    .mapNodes((key, attrs) => ({ key, ...attrs, degree: graph.degree(key) }))
    .sort((x, y) => (x.key < y.key ? -1 : 1));
  const edges = graph.mapEdges((_edge, attrs, a, b) => ({ a, b, ...attrs }));
  const refused = rejectedLinks.filter((r) => graph.hasNode(r.a) || graph.hasNode(r.b));
  let pieces = 0;
  const seen = new Set<string>();
  graph.forEachNode((start) => {
    if (seen.has(start)) return;
    pieces++;
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const node = stack.pop() as string;
      graph.forEachNeighbor(node, (n) => {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      });
    }
  });
  return { identifiers, edges, refused, pieces };
}
