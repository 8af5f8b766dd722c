// Starts the ivrc language server (`ivrc lsp`) for .ivr files when the ivrc binary is on
// PATH. Without it the extension still colours and has snippets; nothing is reported.
'use strict';
const fs = require('fs');
const path = require('path');

let client;

// The executable `name` in a directory of PATH, or undefined.
function findOnPath(name) {
  const suffixes = process.platform === 'win32' ? (process.env.PATHEXT || '.EXE').split(';') : [''];
  for (const dir of (process.env.PATH || '').split(path.delimiter).filter(Boolean)) {
    for (const suffix of suffixes) {
      const file = path.join(dir, name + suffix);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        // not here: try the next directory
      }
    }
  }
  return undefined;
}

function activate() {
  const ivrc = findOnPath('ivrc');
  if (ivrc === undefined) return undefined;
  // Loaded only when there is a server to talk to.
  const { LanguageClient } = require('vscode-languageclient/node');
  client = new LanguageClient(
    'ivrc',
    'ivrc language server',
    { command: ivrc, args: ['lsp'] },
    { documentSelector: [{ language: 'ivr' }] },
  );
  return client.start();
}

function deactivate() {
  return client === undefined ? undefined : client.stop();
}

module.exports = { activate, deactivate };
