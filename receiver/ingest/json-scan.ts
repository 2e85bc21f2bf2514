// A look at the bytes of a JSON text before it is parsed. JSON.parse needs
// memory for its nesting (16 MiB of `[` takes it to 750 MiB before it fails)
// and for every element (5M empty objects: 40 times the body), so a hostile
// body is measured here, in one pass over bytes, and refused before parsing.

export interface JsonShape {
  /** Deepest nesting of arrays and objects. */
  depth: number;
  /** Commas directly inside the outermost array or object: its elements, minus one. */
  topLevelCommas: number;
}

/** Invalid JSON may be measured wrongly; JSON.parse judges it afterwards. */
export function jsonShape(bytes: Uint8Array): JsonShape {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let commas = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && depth === 1) commas++;
  }
  return { depth: deepest, topLevelCommas: commas };
}
