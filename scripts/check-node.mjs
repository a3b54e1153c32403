// Fails early with a clear message when scripts run on a Node too old for libp2p v3.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `ehr-ledger needs Node >= 22.12 (found ${process.versions.node}). ` +
      'Run scripts through pnpm (npx --yes pnpm@12.4.2 <script>): the workspace brings Node 24 as a devDependency.',
  );
  process.exit(1);
}
