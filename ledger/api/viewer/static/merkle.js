// In-browser checks with Web Crypto, independent of the server's code:
// RFC 9162 inclusion proofs (leaf = SHA-256(0x00 || event bytes), node =
// SHA-256(0x01 || left || right); section 2.1.3.2) and C2SP signed-note
// Ed25519 signatures on checkpoints.

const encoder = new TextEncoder();

export class ProofError extends Error {}

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/i.test(hex)) {
    throw new ProofError(`not hex: ${String(hex).slice(0, 20)}…`);
  }
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function base64ToBytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export async function sha256(...parts) {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

export const utf8 = (text) => encoder.encode(text);
export const leafHash = (entry) => sha256(Uint8Array.of(0), entry);
export const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

// RFC 9162 2.1.3.2 steps 1-5. Plain arithmetic instead of bitwise operators:
// those truncate to 32 bits, and a log may outgrow that.
export async function rootFromInclusionProof(leaf, index, size, proof) {
  if (!(Number.isInteger(index) && Number.isInteger(size) && index >= 0 && index < size)) {
    throw new ProofError(`leaf index ${index} is out of range for tree size ${size}`);
  }
  const odd = (n) => n % 2 === 1;
  const half = (n) => Math.floor(n / 2);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32) throw new ProofError(`a proof hash is ${p.length} bytes, want 32`);
    if (sn === 0) throw new ProofError(`proof for tree size ${size} is too long`);
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`proof for tree size ${size} is too short`);
  return r;
}

// Every step an auditor would take, each reported, so a failure says where.
export async function checkInclusion({
  canonical,
  eventHash,
  seq,
  treeSize,
  rootHash,
  proof,
  what = "checkpoint",
}) {
  const steps = [];
  // The leaf index comes from the seq asked for; the bytes hashed must be that
  // event's, or a proof of some other event would pass for this one.
  let claimed;
  try {
    claimed = JSON.parse(canonical).seq;
  } catch {
    claimed = undefined;
  }
  steps.push({
    name: "event seq",
    ok: claimed === seq,
    detail:
      claimed === seq
        ? `the canonical bytes are those of seq ${seq}`
        : `the canonical bytes hold seq ${claimed}, not ${seq}`,
  });
  const bytes = utf8(canonical);
  const rehashed = bytesToHex(await sha256(bytes));
  steps.push({
    name: "event hash",
    ok: rehashed === eventHash,
    detail: `SHA-256(canonical bytes) = ${rehashed}${rehashed === eventHash ? "" : `, the event says ${eventHash}`}`,
  });
  const leaf = await leafHash(bytes);
  steps.push({
    name: "leaf hash",
    ok: true,
    detail: `SHA-256(0x00 || bytes) = ${bytesToHex(leaf)}`,
  });
  try {
    const root = bytesToHex(
      await rootFromInclusionProof(leaf, seq - 1, treeSize, proof.map(hexToBytes)),
    );
    steps.push({
      name: "root",
      ok: root === rootHash,
      detail:
        root === rootHash
          ? `recomputed root ${root} matches the ${what}`
          : `recomputed root ${root}, the ${what} says ${rootHash}`,
    });
  } catch (error) {
    if (!(error instanceof ProofError)) throw error;
    steps.push({ name: "root", ok: false, detail: error.message });
  }
  return { ok: steps.every((step) => step.ok), steps };
}

// A C2SP checkpoint's body lines: origin, tree size, base64 root.
export function parseCheckpoint(note) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new ProofError("the note has no blank line before its signatures");
  const body = note.slice(0, split + 1);
  const [origin, size, root] = body.split("\n");
  const signatures = note
    .slice(split + 2)
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const match = /^— (\S+) (\S+)$/.exec(line);
      if (!match) throw new ProofError(`not a signature line: ${line}`);
      return { name: match[1], blob: base64ToBytes(match[2]) };
    });
  if (!/^(0|[1-9][0-9]*)$/.test(size ?? "") || !Number.isSafeInteger(Number(size))) {
    throw new ProofError(`the note's tree size is not a number: ${String(size).slice(0, 20)}`);
  }
  let rootBytes;
  try {
    rootBytes = base64ToBytes(root ?? "");
  } catch {
    rootBytes = new Uint8Array();
  }
  if (rootBytes.length !== 32) throw new ProofError("the note's root is not 32 bytes of base64");
  return { body, origin, treeSize: Number(size), rootHash: bytesToHex(rootBytes), signatures };
}

// Verifier key `<name>+<8 hex key id>+<base64(0x01 || public key)>`.
export async function verifyNote(note, verifierKey) {
  // The base64 key may itself hold "+": only the first two split.
  const [name, idHex, ...rest] = verifierKey.trim().split("+");
  const keyText = rest.join("+");
  if (!name || !idHex || !keyText) {
    throw new ProofError("a verifier key is <name>+<hex id>+<base64 key>");
  }
  const key = base64ToBytes(keyText);
  if (key.length !== 33 || key[0] !== 1) throw new ProofError("not an Ed25519 verifier key");
  const id = (await sha256(utf8(name), Uint8Array.of(0x0a), key)).slice(0, 4);
  if (bytesToHex(id) !== idHex.toLowerCase())
    throw new ProofError("the key id does not match the key");
  const { body, signatures } = parseCheckpoint(note);
  const mine = signatures.find(
    (sig) => sig.name === name && bytesToHex(sig.blob.slice(0, 4)) === bytesToHex(id),
  );
  if (!mine) throw new ProofError(`no signature by ${name} on this checkpoint`);
  const publicKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, [
    "verify",
  ]);
  return crypto.subtle.verify({ name: "Ed25519" }, publicKey, mine.blob.slice(4), utf8(body));
}
