// Browser entry of the operator's console (GET /console), bundled by
// scripts/build-console.mjs with esbuild; everything it loads comes from this origin.
import { createRoot } from "react-dom/client";
import { App } from "./app";
import "./console.css";

createRoot(document.getElementById("console")!).render(<App />);
