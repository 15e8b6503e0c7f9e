/*
 * The import directions of DESIGN.md and STYLE.md, checked by `npm run check` (docs/architecture.md
 * draws them): machines → nothing of src; actors → machines and each other; services → actors,
 * persistence types and the protocol; transport → services and the protocol; no cycles.
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
      name: 'transport-through-services',
      severity: 'error',
      comment:
        'Transport parses, authenticates, calls a service and encodes the answer: it never reaches persistence, market data, the jobs, the chain or the integrations itself.',
      from: { path: '^src/transport/' },
      to: { path: '^src/(persistence|marketdata|jobs|chain|integrations)/' },
    },
    {
      name: 'transport-reads-actors-through-services',
      severity: 'error',
      comment:
        'Transport calls services; of the actors it names only types (and formats money with actors/money): it never drives an actor itself.',
      from: { path: '^src/transport/' },
      to: { path: '^src/actors/', pathNot: '^src/actors/money', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'events-are-pure',
      severity: 'error',
      comment:
        "src/events is the committed event stream: domain events and their one fold over the actors' records; it imports the actors, machines and the protocol, nothing that does I/O.",
      from: { path: '^src/events/' },
      to: { path: '^src/', pathNot: '^src/(events|actors|protocol)/' },
    },
    {
      name: 'services-below-transport',
      severity: 'error',
      comment: 'Dependencies point one way: transport → services → actors.',
      from: { path: '^src/services/' },
      to: { path: '^src/transport/' },
    },
    {
      name: 'persistence-is-a-sink',
      severity: 'error',
      comment: 'Persistence is handed to the layers above; it imports neither transport nor services.',
      from: { path: '^src/persistence/' },
      to: { path: '^src/(transport|services)/' },
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
    {
      name: 'cluster-is-infrastructure',
      severity: 'error',
      comment:
        'src/cluster (leases, epochs, placement: docs/scale-out.md) is handed to the roles by the composition root, like persistence: it imports no transport, services or actors.',
      from: { path: '^src/cluster/' },
      to: { path: '^src/(transport|services|actors)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
