"use client";
// A client component using tokengate in the browser: the package's `browser` entry
// fetches its .wasm next to itself (Next.js emits it as an asset). `decode` shows a
// token's header and claims WITHOUT verifying it.
import { useState } from "react";
import { decode } from "tokengate";

export default function DecodePage() {
  const [token, setToken] = useState("");
  const result = token.trim() ? decode(token.trim()) : null;
  return (
    <main>
      <h1>Decode an access token (not verified)</h1>
      <textarea
        aria-label="token"
        rows={6}
        cols={80}
        value={token}
        onChange={(e) => setToken(e.target.value)}
        placeholder="eyJhbGciOi..."
      />
      {result && (
        <>
          <p>
            {result.ok
              ? `Looks like a ${result.hint?.kind ?? "?"} token (decided by ${result.hint?.decidedBy ?? "?"}). Not verified.`
              : `Not a JWT: ${result.error.message}`}
          </p>
          <pre>{JSON.stringify(result, null, 2)}</pre>
        </>
      )}
    </main>
  );
}
