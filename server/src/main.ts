// Entry point of dist/server.js: `node dist/server.js --stdio` (the extension starts it so).
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { loadFacts } from './facts/loadFacts';
import { startServer } from './lsp/server';

const connection = createConnection(ProposedFeatures.all);
const { facts, source } = loadFacts();
startServer(connection, { facts, factsSource: source });
