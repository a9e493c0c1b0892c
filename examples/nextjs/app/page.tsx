export default function Home() {
  return (
    <main>
      <h1>tokengate + Next.js</h1>
      <p>
        Send <code>Authorization: Bearer &lt;access token&gt;</code> to <code>/api/proxy/…</code> (Node.js
        runtime), <code>/api/edge/…</code> (edge runtime) or <code>/upstream/…</code> (proxy.ts). Machines may do
        everything; users need <code>read:builds</code> to read and <code>update:builds</code> to write.
      </p>
    </main>
  );
}
