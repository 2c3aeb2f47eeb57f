#!/usr/bin/env node
// The checked-in artifact of SentinelTrust (ABI + bytecode), from a forge
// build output directory.
//
//   node tools/artifact.js OUT_DIR artifacts/SentinelTrust.json --check
//   node tools/artifact.js OUT_DIR artifacts/SentinelTrust.json --write
//
// --check exits 1, naming the fields that differ, when the file is not what
// the build produced. The build must be reproducible: foundry.toml fixes the
// compiler, the optimizer and the EVM version, and drops the metadata hash and
// CBOR, so the bytecode depends on the source alone.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [outDir, artifactPath, mode] = process.argv.slice(2);
if (!outDir || !artifactPath || !['--check', '--write'].includes(mode)) {
  process.stderr.write('usage: artifact.js OUT_DIR ARTIFACT.json --check|--write\n');
  process.exit(2);
}

const here = path.resolve(__dirname, '..');
const sourceRel = 'src/SentinelTrust.sol';
const built = JSON.parse(fs.readFileSync(path.join(outDir, 'SentinelTrust.sol', 'SentinelTrust.json'), 'utf8'));
const meta = built.metadata || {};
const settings = meta.settings || {};

const artifact = {
  contractName: 'SentinelTrust',
  source: `contracts/${sourceRel}`,
  sourceSha256: crypto.createHash('sha256').update(fs.readFileSync(path.join(here, sourceRel))).digest('hex'),
  compiler: {
    version: (meta.compiler || {}).version,
    optimizer: settings.optimizer,
    viaIR: settings.viaIR === true,
    evmVersion: settings.evmVersion,
    metadata: settings.metadata,
  },
  abi: built.abi,
  bytecode: built.bytecode.object,
  deployedBytecode: built.deployedBytecode.object,
  methodIdentifiers: built.methodIdentifiers,
};
const text = JSON.stringify(artifact, null, 2) + '\n';

if (mode === '--write') {
  fs.mkdirSync(path.dirname(artifactPath), { recursive: true });
  fs.writeFileSync(artifactPath, text);
  process.stdout.write(`wrote ${artifactPath} (${(artifact.deployedBytecode.length - 2) / 2} bytes of runtime code)\n`);
  process.exit(0);
}

let current;
try {
  current = JSON.parse(fs.readFileSync(artifactPath, 'utf8'));
} catch (e) {
  process.stderr.write(`${artifactPath}: cannot read it (${e.message})\n`);
  current = {};
}
const differing = Object.keys(artifact).filter((k) => JSON.stringify(current[k]) !== JSON.stringify(artifact[k]));
if (differing.length === 0 && fs.readFileSync(artifactPath, 'utf8') === text) {
  process.stdout.write(`${artifactPath} matches a fresh build (${(artifact.deployedBytecode.length - 2) / 2} bytes of runtime code)\n`);
  process.exit(0);
}
process.stderr.write(
  `${artifactPath} does NOT match a fresh build of contracts/${sourceRel}` +
    (differing.length ? ` (differs in: ${differing.join(', ')})` : ' (formatting)') +
    '.\nIf the source change is intended, regenerate it and commit the result:\n' +
    '    bash contracts/ci.sh --update\n',
);
process.exit(1);
