import { defineConfig } from "vite";

// JSX through Vite's own esbuild with React's automatic runtime: no Babel plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true },
  logLevel: "warn",
});
