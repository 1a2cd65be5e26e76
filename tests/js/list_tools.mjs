// Lists execq mcp's tools through the official TypeScript SDK and reports every warning its
// validator printed meanwhile (it compiles each tool's output schema when the tools are listed).
// Usage: node list_tools.mjs EXECQ QUEUE   Prints one JSON line: {"tools": N, "warnings": [...]}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [execq, queue] = process.argv.slice(2);
const warnings = [];
for (const level of ["warn", "error", "log", "info"]) {
  const original = console[level];
  console[level] = (...args) => {
    warnings.push(args.map(String).join(" "));
    if (level === "error") original(...args);
  };
}
const transport = new StdioClientTransport({ command: execq, args: ["--queue", queue, "mcp"], stderr: "ignore" });
const client = new Client({ name: "execq-tests", version: "0" });
await client.connect(transport);
const { tools } = await client.listTools();
// Calling a tool makes the SDK validate the answer against the tool's output schema too.
const status = await client.callTool({ name: "queue_status", arguments: {} });
await client.close();
process.stdout.write(JSON.stringify({ tools: tools.length, isError: status.isError ?? false, warnings }) + "\n");
