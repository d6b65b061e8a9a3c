// Validate glTF/GLB files with the Khronos glTF Validator (npm package gltf-validator).
// Usage: NODE_PATH=<folder with node_modules> node validate_gltf.cjs FILE...
// Prints one JSON line per file: {"file", "errors", "warnings", "messages": [first 10 error/warning texts]}.
const fs = require("fs");
const validator = require("gltf-validator");

async function main() {
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), { maxIssues: 100 });
    const messages = report.issues.messages.filter((m) => m.severity <= 1).slice(0, 10)
      .map((m) => `${m.code} ${m.pointer || ""} ${m.message}`);
    console.log(JSON.stringify({ file, errors: report.issues.numErrors, warnings: report.issues.numWarnings, messages }));
  }
}
main().catch((error) => { console.error(String(error)); process.exit(2); });
