// Files attached to a chat message: picked with a file input, dropped on the composer, or
// pasted (images). Each becomes a content part of the run's `input` (covey-spec `UserContent`:
// an image, audio or video part, or a document part with its filename), base64 inline. Each
// shows as a removable chip with its name and size. A file that cannot fit in one request
// (`limit`, the server's max_body_size) is refused at once with a message saying so.
import { h, replace } from "./dom.js";
import { bytes } from "./chat-turn.js";

const base64 = (file) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
  reader.onerror = () => reject(reader.error || new Error(`Could not read ${file.name}`));
  reader.readAsDataURL(file);
});

/** The content part for `file` (its data added by `read`). */
function kindOf(type) {
  for (const kind of ["image", "audio", "video"]) if (type.startsWith(`${kind}/`)) return kind;
  return "document";
}

/** Base64 grows data by a third: the bytes a file takes in the JSON body. */
export const encodedSize = (size) => Math.ceil(size / 3) * 4;

export class Attachments {
  constructor({ limit, onError }) {
    this.limit = limit;
    this.onError = onError;
    this.items = []; // {file, part}
    this.el = h("ul", { class: "chat-chips", "aria-label": "Attached files" });
    this.el.hidden = true;
  }

  async add(files) {
    for (const file of files) {
      const name = file.name || `pasted.${(file.type.split("/")[1] || "bin").replace(/[^\w]/g, "")}`;
      if (encodedSize(file.size) > this.limit) {
        this.onError(`${name} is ${bytes(file.size)}: too large for this server, which takes at most ${bytes(this.limit)} per message (its max_body_size; attachments are sent base64, a third larger).`);
        continue;
      }
      try {
        const type = file.type || "application/octet-stream";
        const kind = kindOf(type);
        const part = { kind, data: await base64(file), media_type: type };
        if (kind === "document") part.filename = name;
        this.items.push({ name, size: file.size, part });
      } catch (error) {
        this.onError(String(error.message || error));
      }
    }
    this.draw();
  }

  remove(item) {
    this.items = this.items.filter((x) => x !== item);
    this.draw();
  }

  clear() {
    this.items = [];
    this.draw();
  }

  parts() {
    return this.items.map((item) => item.part);
  }

  draw() {
    this.el.hidden = !this.items.length;
    replace(this.el, this.items.map((item) => h("li", { class: "chat-chip" },
      h("span", { class: "chat-chip-kind" }, item.part.kind === "document" ? "file" : item.part.kind), " ",
      item.name, h("span", { class: "muted" }, ` · ${bytes(item.size)}`), " ",
      h("button", {
        type: "button", class: "chat-chip-remove", "aria-label": `Remove ${item.name}`,
        onclick: () => this.remove(item),
      }, "×"))));
  }

  /** Accept drops on `zone` and pasted files on `target` (both elements). */
  wire(zone, target) {
    zone.addEventListener("dragover", (e) => {
      if (![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      zone.classList.add("chat-drop");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("chat-drop"));
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("chat-drop");
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      this.add([...e.dataTransfer.files]);
    });
    target.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (!files.length) return;
      e.preventDefault();
      this.add(files);
    });
  }
}
