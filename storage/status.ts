/**
 * `ApiError`: the one error type that knows its Kubernetes `Status` response.
 *
 * Anything that rejects a request throws an `ApiError`; the API server renders it with
 * {@linkcode ApiError.toStatus}. Any other exception becomes a 500 InternalError.
 *
 * @example
 * ```ts
 * throw ApiError.notFound({ group: "", resource: "configmaps" }, "app-config");
 * // 404 {"kind":"Status","reason":"NotFound","message":"configmaps \"app-config\" not found",…}
 * ```
 *
 * @module
 */

/** metav1.StatusCause: one reason a request was invalid. */
export interface StatusCause {
  /** e.g. `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueDuplicate` */
  reason: string;
  message: string;
  /** the JSON path of the field, e.g. `metadata.name` or `spec.containers[0].image` */
  field: string;
}

/** Kubernetes `StatusReason` values we use, with their HTTP codes. */
export const REASON_CODES = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  Gone: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
} as const;

/** A Kubernetes status reason. */
export type StatusReason = keyof typeof REASON_CODES;

/** Identifies the kind of thing an error is about, as in `configmaps "x" not found`. */
export interface ResourceRef {
  group: string;
  resource: string;
  /** the Kind, used in Invalid messages (`ConfigMap "x" is invalid: …`) */
  kind?: string;
}

/** metav1.Status as JSON. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: StatusReason;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

function qualified(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource;
}

/** An error that renders as a Kubernetes `Status`. */
export class ApiError extends Error {
  readonly code: number;

  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: Status["details"],
  ) {
    super(message);
    this.name = "ApiError";
    this.code = REASON_CODES[reason];
  }

  /** The `Status` body of this error. */
  toStatus(): Status {
    const status: Status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }

  /** 404: `configmaps "x" not found` */
  static notFound(ref: ResourceRef, name: string): ApiError {
    return new ApiError("NotFound", `${qualified(ref)} "${name}" not found`, {
      name,
      group: ref.group,
      kind: ref.resource,
    });
  }

  /** 409: `configmaps "x" already exists` */
  static alreadyExists(ref: ResourceRef, name: string): ApiError {
    return new ApiError("AlreadyExists", `${qualified(ref)} "${name}" already exists`, {
      name,
      group: ref.group,
      kind: ref.resource,
    });
  }

  /** 409: `Operation cannot be fulfilled on configmaps "x": <why>` */
  static conflict(ref: ResourceRef, name: string, why: string): ApiError {
    return new ApiError(
      "Conflict",
      `Operation cannot be fulfilled on ${qualified(ref)} "${name}": ${why}`,
      { name, group: ref.group, kind: ref.resource },
    );
  }

  /** 422: `ConfigMap "x" is invalid: [metadata.name: Invalid value: …, …]` */
  static invalid(ref: ResourceRef, name: string, causes: StatusCause[]): ApiError {
    const kind = ref.kind ?? ref.resource;
    const list = causes.map((c) => `${c.field}: ${c.message}`);
    const summary = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
    return new ApiError("Invalid", `${kind} "${name}" is invalid: ${summary}`, {
      name,
      group: ref.group,
      kind,
      causes,
    });
  }

  /** 400 with the given message. */
  static badRequest(message: string): ApiError {
    return new ApiError("BadRequest", message);
  }

  /** 410: the requested resourceVersion is older than the kept history. */
  static expired(message = "too old resource version"): ApiError {
    return new ApiError("Expired", message);
  }

  /** 405: `the server does not allow this method on the requested resource` */
  static methodNotAllowed(): ApiError {
    return new ApiError(
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  }

  /** 401 */
  static unauthorized(): ApiError {
    return new ApiError("Unauthorized", "Unauthorized");
  }
}

/** A cause for an invalid field value, worded as Kubernetes words it. */
export function invalidValue(field: string, value: unknown, detail: string): StatusCause {
  return {
    reason: "FieldValueInvalid",
    field,
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  };
}

/** A cause for a missing required field. */
export function requiredValue(field: string, detail = ""): StatusCause {
  return {
    reason: "FieldValueRequired",
    field,
    message: detail ? `Required value: ${detail}` : "Required value",
  };
}

/** A cause for a list longer than allowed (`Too many: 3: must have at most 2 items`). */
export function tooMany(field: string, actual: number, max: number): StatusCause {
  return {
    reason: "FieldValueTooMany",
    field,
    message: `Too many: ${actual}: must have at most ${max} items`,
  };
}

/** A cause for a value outside an enumeration. */
export function notSupportedValue(
  field: string,
  value: unknown,
  allowed: readonly string[],
): StatusCause {
  return {
    reason: "FieldValueNotSupported",
    field,
    message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${
      allowed.map((a) => `"${a}"`).join(", ")
    }`,
  };
}
