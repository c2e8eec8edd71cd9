/**
 * The API reference page at /docs: Swagger UI, bundled from npm's
 * swagger-ui-dist by esbuild (src/docs/build.ts), rendering the document the
 * server serves at /openapi.json. Nothing is loaded from elsewhere.
 */
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  // Swagger UI would otherwise send the document to validator.swagger.io.
  validatorUrl: null,
  displayOperationId: true,
  defaultModelsExpandDepth: 0,
});
