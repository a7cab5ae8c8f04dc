import { defineConfig } from "vite";

// Nothing package-specific: a fresh app must work with Vite's defaults.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true },
  logLevel: "warn",
});
