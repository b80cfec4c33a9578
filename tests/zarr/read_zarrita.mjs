// Reads arrays of a Zarr v3 store with zarrita.js (an implementation of the final v3 spec
// that strata does not share code with) and writes each array's raw little-endian bytes to
// OUTDIR/NAME.bin, plus OUTDIR/meta.json with shape, data type and attributes.
// usage: node read_zarrita.mjs STORE OUTDIR NAME...   (NODE_PATH must hold zarrita)
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";
import { writeFileSync } from "node:fs";

const [store, outdir, ...names] = process.argv.slice(2);
const root = zarr.root(new FileSystemStore(store));
const group = await zarr.open.v3(root, { kind: "group" });
const meta = { group_attrs: group.attrs, arrays: {} };
for (const name of names) {
  const arr = await zarr.open.v3(root.resolve(name), { kind: "array" });
  const got = await zarr.get(arr);
  meta.arrays[name] = { shape: arr.shape, dtype: arr.dtype, chunks: arr.chunks, attrs: arr.attrs };
  if (got.data === undefined) {
    meta.arrays[name].value = got; // a 0-d array gives its one value
    continue;
  }
  const data = got.data;
  writeFileSync(`${outdir}/${name}.bin`, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}
writeFileSync(`${outdir}/meta.json`, JSON.stringify(meta, (k, v) => (typeof v === "bigint" ? Number(v) : v)));
console.log("ok");
