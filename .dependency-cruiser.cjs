/*
 * The import directions of DESIGN.md and STYLE.md, checked by `npm run check`. Every rule here holds
 * today; the directions the code does not keep yet (transport → persistence and → marketdata,
 * persistence → client: issue 13) are listed in the closing notes and get their rule when fixed.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle makes two modules one; split what they share into a third.',
      from: { path: '^(src|machines)/' },
      to: { circular: true, viaOnly: { pathNot: '^$' } },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'machines/ are pure XState definitions: they import nothing of src/.',
      from: { path: '^machines/' },
      to: { path: '^src/' },
    },
    {
      name: 'actors-import-nothing-above',
      severity: 'error',
      comment: 'The actors (book, ledger, market, supervisor) import machines and each other only.',
      from: { path: '^src/actors/' },
      to: { path: '^src/', pathNot: '^src/actors/' },
    },
    {
      name: 'no-src-to-scripts',
      severity: 'error',
      comment: 'The exchange does not import the repository scripts (they import it).',
      from: { path: '^src/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'no-src-to-tests-or-bench',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment:
        'src/protocol is the wire contract as code: the SDK, the web pages and the server import it; it imports nothing else of src/.',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: 'src/client runs in browsers: it imports the protocol and nothing else of src/.',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|protocol)/' },
    },
    {
      name: 'server-does-not-use-the-sdk',
      severity: 'error',
      comment: 'The server takes its codec, checksum and message types from src/protocol, not from the SDK.',
      from: { path: '^src/', pathNot: '^src/client/' },
      to: { path: '^src/client/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
