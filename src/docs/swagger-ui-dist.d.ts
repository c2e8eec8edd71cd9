/** The part of swagger-ui-dist's untyped bundle the reference page uses. */
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  interface SwaggerUIOptions {
    readonly url: string;
    readonly dom_id: string;
    readonly deepLinking?: boolean;
    readonly validatorUrl?: string | null;
    readonly tryItOutEnabled?: boolean;
    readonly displayOperationId?: boolean;
    readonly defaultModelsExpandDepth?: number;
  }
  const SwaggerUIBundle: (options: SwaggerUIOptions) => unknown;
  export default SwaggerUIBundle;
}
