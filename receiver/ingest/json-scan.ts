// A look at the bytes of a JSON text before it is parsed. JSON.parse needs
// memory for its nesting (16 MiB of `[` takes it to 750 MiB before it fails)
// and for every value it builds (an empty object costs V8 about 64 bytes, 21
// times its text), so a hostile body is measured here, in one pass over bytes,
// and refused before parsing.

export interface JsonShape {
  /** Deepest nesting of arrays and objects. */
  depth: number;
  /** Commas directly inside the outermost array or object: its elements, minus one. */
  topLevelCommas: number;
  /** Objects and arrays, at any depth. */
  containers: number;
  /** Object members (colons), at any depth. */
  members: number;
  /** Commas at any depth: elements and members after the first. */
  commas: number;
}

/**
 * What JSON.parse builds, in bytes, estimated from the shape; measured on V8
 * (Node 20): an empty object 64, an empty array 40, a member up to 48 when
 * every key is different, an element of an array of small integers 10.
 */
export function parseCostEstimate(s: JsonShape): number {
  return s.containers * 64 + s.members * 48 + s.commas * 8;
}

/** Invalid JSON may be measured wrongly; JSON.parse judges it afterwards. */
export function jsonShape(bytes: Uint8Array): JsonShape {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let topLevelCommas = 0;
  let containers = 0;
  let members = 0;
  let commas = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      containers++;
      deepest = Math.max(deepest, ++depth);
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c) {
      commas++;
      if (depth === 1) topLevelCommas++;
    } else if (c === 0x3a) members++;
  }
  return { depth: deepest, topLevelCommas, containers, members, commas };
}
