// Pretty-printed, highlighted JSON as DOM nodes (text nodes only: token content
// never goes through innerHTML). Top-level members can carry a trailing comment,
// used for the human form of time claims.

function span(cls, text) {
  const el = document.createElement("span");
  el.className = cls;
  el.textContent = text;
  return el;
}

function scalar(value) {
  if (value === null) return span("j-null", "null");
  switch (typeof value) {
    case "string":
      return span("j-str", JSON.stringify(value));
    case "number":
      return span("j-num", JSON.stringify(value));
    case "boolean":
      return span("j-bool", String(value));
    default:
      return span("j-str", JSON.stringify(value) ?? "undefined");
  }
}

function emit(out, value, depth, indent) {
  const pad = (d) => " ".repeat(d * indent);
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.append(span("j-punc", "[]"));
      return;
    }
    out.append(span("j-punc", "["), "\n");
    value.forEach((item, i) => {
      out.append(pad(depth + 1));
      emit(out, item, depth + 1, indent);
      if (i < value.length - 1) out.append(span("j-punc", ","));
      out.append("\n");
    });
    out.append(pad(depth), span("j-punc", "]"));
    return;
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      out.append(span("j-punc", "{}"));
      return;
    }
    out.append(span("j-punc", "{"), "\n");
    keys.forEach((k, i) => {
      out.append(pad(depth + 1), span("j-key", JSON.stringify(k)), span("j-punc", ": "));
      emit(out, value[k], depth + 1, indent);
      if (i < keys.length - 1) out.append(span("j-punc", ","));
      out.append("\n");
    });
    out.append(pad(depth), span("j-punc", "}"));
    return;
  }
  out.append(scalar(value));
}

/**
 * Renders `value` into `pre` (replacing its content). `comments` maps top-level keys
 * to a short comment shown after the member (e.g. a date for `exp`).
 */
export function renderJson(pre, value, comments = {}, indent = 2) {
  const frag = document.createDocumentFragment();
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    emit(frag, value, 0, indent);
    pre.replaceChildren(frag);
    return;
  }
  const keys = Object.keys(value);
  frag.append(span("j-punc", "{"), "\n");
  keys.forEach((k, i) => {
    const line = document.createElement("span");
    line.className = "j-line";
    line.dataset.key = k;
    line.append(" ".repeat(indent), span("j-key", JSON.stringify(k)), span("j-punc", ": "));
    emit(line, value[k], 1, indent);
    if (i < keys.length - 1) line.append(span("j-punc", ","));
    if (comments[k]) line.append("  ", span("j-comment", `// ${comments[k]}`));
    frag.append(line, "\n");
  });
  frag.append(span("j-punc", "}"));
  pre.replaceChildren(frag);
}
