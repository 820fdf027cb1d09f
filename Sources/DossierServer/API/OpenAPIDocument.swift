/// The OpenAPI 3.1 description of the API, served at /openapi.json (tools/test runs schemathesis
/// against the running server with it: every response must conform).
enum OpenAPIDocument {
    static let text = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "Dossier",
  "version": "1.0.0",
  "description": "The personnel ledger of community workers over HTTP. Every request acts as the person who logged in (a browser session, or `Authorization: Bearer TOKEN` from `dossier user token NAME`); the database decides what that person may read and record. Errors are RFC 9457 problem documents."
 },
 "servers": [
  {
   "url": "/"
  }
 ],
 "security": [
  {
   "bearer": []
  },
  {
   "session": []
  }
 ],
 "components": {
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer",
    "description": "a token from `dossier user token NAME`"
   },
   "session": {
    "type": "apiKey",
    "in": "cookie",
    "name": "dossier_session",
    "description": "a browser session (POST /api/login); unsafe methods need X-CSRF-Token"
   }
  },
  "schemas": {
   "Place": {
    "type": "object",
    "required": [
     "kind",
     "name",
     "path",
     "established",
     "children"
    ],
    "properties": {
     "kind": {
      "type": "string",
      "enum": [
       "city",
       "district",
       "street",
       "community"
      ]
     },
     "name": {
      "type": "string"
     },
     "path": {
      "type": "string"
     },
     "established": {
      "type": "string",
      "format": "date"
     },
     "ends": {
      "type": "string",
      "format": "date"
     },
     "endsBy": {
      "type": "string",
      "enum": [
       "merge",
       "abolish"
      ]
     },
     "formerNames": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "children": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Place"
      }
     }
    }
   },
   "Problem": {
    "type": "object",
    "required": [
     "type",
     "title",
     "status",
     "detail"
    ],
    "properties": {
     "type": {
      "type": "string"
     },
     "title": {
      "type": "string"
     },
     "status": {
      "type": "integer"
     },
     "detail": {
      "type": "string"
     },
     "rules": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "rule",
        "message"
       ],
       "properties": {
        "rule": {
         "type": "string"
        },
        "message": {
         "type": "string"
        }
       }
      }
     },
     "overridable": {
      "type": "boolean"
     },
     "parameter": {
      "type": "string"
     },
     "line": {
      "type": "integer"
     },
     "problems": {
      "type": "array"
     },
     "lines": {}
    }
   },
   "Decision": {
    "type": "object",
    "required": [
     "decision"
    ],
    "description": "A decision as documented in the README (DOMAIN contract): `decision`, the subject (`worker` or `jurisdiction`), `effective`, `authority`, `reference` and the fields of its kind; `override` carries a justification and `overrideApproval` the approving document.",
    "properties": {
     "decision": {
      "type": "string",
      "enum": [
       "hire",
       "level-change",
       "post-change",
       "transfer",
       "assessment",
       "qualification",
       "training",
       "secondment",
       "secondment-end",
       "temporary-post",
       "temporary-post-end",
       "misconduct",
       "fault-tolerance",
       "dismissal",
       "resignation",
       "retirement",
       "civil-service",
       "public-institution",
       "street-leadership",
       "appeal-ruling",
       "correction",
       "rescission",
       "population",
       "policy",
       "selection",
       "appeal"
      ]
     },
     "worker": {
      "type": "string",
      "description": "The worker id; a hire may leave it out: the ledger assigns the next id of the district's series and returns it as the Recorded `subject`."
     },
     "effective": {
      "type": "string",
      "format": "date"
     },
     "authority": {
      "type": "string"
     },
     "reference": {
      "type": "string"
     },
     "override": {
      "description": "Why the decision is recorded despite a policy rule; needs overrideApproval. Facts (structural rules) are never overridden.",
      "type": "string"
     },
     "overrideApproval": {
      "description": "Who approved the override: the approving document's reference (like reference); needs override.",
      "type": "string"
     },
     "personalCorrection": {
      "type": "string",
      "description": "On a hire under an existing worker id (a rehire): why its personal data differ from the record's (without it such a hire is refused, rule rehire-identity)."
     }
    }
   },
   "CadreReport": {
    "type": "object",
    "description": "A temporary-post cadre's record (GET /api/workers/{id} when the id is a cadre's): the post held on the date and every temporary post effective by then.",
    "required": [
     "cadre",
     "subjectKind",
     "asOf",
     "status",
     "temporaryPosts"
    ],
    "properties": {
     "cadre": {
      "type": "string"
     },
     "subjectKind": {
      "type": "string",
      "enum": [
       "cadre"
      ]
     },
     "name": {
      "type": [
       "string",
       "null"
      ]
     },
     "personalData": {
      "type": "string"
     },
     "asOf": {
      "type": "string",
      "format": "date"
     },
     "knownAt": {
      "type": [
       "string",
       "null"
      ]
     },
     "version": {
      "type": "integer"
     },
     "status": {
      "type": "string",
      "enum": [
       "on-temporary-post",
       "no-temporary-post"
      ]
     },
     "current": {
      "type": [
       "object",
       "null"
      ]
     },
     "temporaryPosts": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "eventId",
        "homeAgency",
        "community",
        "role",
        "kind",
        "since",
        "until"
       ],
       "properties": {
        "eventId": {
         "type": "string",
         "format": "uuid"
        },
        "homeAgency": {
         "type": "string"
        },
        "community": {
         "type": "string"
        },
        "role": {
         "type": "string"
        },
        "kind": {
         "type": "string"
        },
        "since": {
         "type": "string",
         "format": "date"
        },
        "until": {
         "type": "string",
         "format": "date"
        },
        "ended": {
         "type": [
          "string",
          "null"
         ]
        }
       }
      }
     }
    }
   },
   "Recorded": {
    "type": "object",
    "required": [
     "eventId",
     "position",
     "version",
     "recordedAt",
     "decision",
     "subject",
     "reference",
     "duplicate",
     "exceptions",
     "warnings"
    ],
    "properties": {
     "eventId": {
      "type": "string",
      "format": "uuid"
     },
     "position": {
      "type": "integer"
     },
     "version": {
      "type": "integer"
     },
     "recordedAt": {
      "type": "string"
     },
     "decision": {
      "type": "string"
     },
     "subject": {
      "type": "string"
     },
     "reference": {
      "type": "string"
     },
     "duplicate": {
      "type": "boolean"
     },
     "exceptions": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "warnings": {
      "description": "What the recorder should know that did not stop the decision (a check that could not be made); not stored.",
      "type": "array",
      "items": {
       "type": "object",
       "required": ["rule", "message"],
       "properties": {
        "rule": {"type": "string"},
        "message": {"type": "string"}
       }
      }
     }
    }
   },
   "WorkerReport": {
    "type": "object",
    "required": [
     "worker",
     "status",
     "asOf",
     "eligibility"
    ],
    "properties": {
     "worker": {
      "type": "string"
     },
     "name": {
      "type": [
       "string",
       "null"
      ]
     },
     "personalData": {
      "type": "string",
      "enum": [
       "none",
       "held",
       "withheld",
       "erased"
      ]
     },
     "status": {
      "type": "string"
     },
     "asOf": {
      "type": "string",
      "format": "date"
     },
     "level": {
      "type": [
       "integer",
       "null"
      ]
     },
     "eligibility": {
      "type": "object"
     }
    }
   },
   "Trace": {
    "type": "object",
    "required": [
     "stream",
     "entries"
    ],
    "properties": {
     "stream": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "entries": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "position",
        "eventId",
        "decision",
        "effective",
        "recordedAt",
        "recordedBy"
       ]
      }
     }
    }
   },
   "History": {
    "type": "object",
    "required": [
     "worker",
     "field",
     "effective",
     "learned"
    ],
    "properties": {
     "worker": {
      "type": "string"
     },
     "field": {
      "type": "string"
     },
     "effective": {
      "type": "array"
     },
     "learned": {
      "type": "array"
     }
    }
   },
   "RosterEntry": {
    "type": "object",
    "required": [
     "worker",
     "status",
     "community",
     "street",
     "district",
     "city"
    ],
    "properties": {
     "worker": {
      "type": "string"
     },
     "name": {
      "type": [
       "string",
       "null"
      ]
     },
     "status": {
      "type": "string"
     },
     "level": {
      "type": [
       "integer",
       "null"
      ]
     }
    }
   },
   "QuotaLine": {
    "type": "object",
    "required": [
     "jurisdiction",
     "headcount",
     "quota",
     "gap",
     "year",
     "urbanPopulation",
     "perTenThousand",
     "compliant",
     "ratioPerTenThousand",
     "standing"
    ],
    "properties": {
     "jurisdiction": {
      "type": "string"
     },
     "headcount": {
      "type": "integer",
      "minimum": 0
     },
     "quota": {
      "type": [
       "integer",
       "null"
      ]
     },
     "gap": {
      "type": [
       "integer",
       "null"
      ]
     },
     "year": {
      "type": [
       "integer",
       "null"
      ]
     },
     "urbanPopulation": {
      "type": [
       "integer",
       "null"
      ]
     },
     "perTenThousand": {
      "type": [
       "integer",
       "null"
      ]
     },
     "compliant": {
      "type": [
       "boolean",
       "null"
      ]
     },
     "ratioPerTenThousand": {
      "type": [
       "number",
       "null"
      ],
      "description": "workers per 10,000 urban residents, two decimals"
     },
     "standing": {
      "type": "string",
      "enum": [
       "below",
       "at",
       "over",
       "no-figure"
      ],
      "description": "below: a shortfall of gap; over: above the ceiling; no-figure: no population figure in force, the quota is unknown"
     }
    }
   },
   "Exception": {
    "type": "object"
   },
   "Appeal": {
    "type": "object",
    "required": [
     "position",
     "appeal",
     "worker",
     "jurisdiction",
     "lodged",
     "against",
     "againstDecision",
     "againstStream",
     "status",
     "ruling",
     "ruledOn",
     "daysOpen",
     "reference",
     "authority"
    ],
    "properties": {
     "position": {
      "type": "integer"
     },
     "appeal": {
      "type": "string",
      "format": "uuid"
     },
     "worker": {
      "type": "string"
     },
     "jurisdiction": {
      "type": [
       "string",
       "null"
      ]
     },
     "lodged": {
      "type": "string",
      "format": "date"
     },
     "against": {
      "type": "string",
      "format": "uuid"
     },
     "againstDecision": {
      "type": [
       "string",
       "null"
      ]
     },
     "againstStream": {
      "type": [
       "string",
       "null"
      ]
     },
     "status": {
      "type": "string",
      "enum": [
       "open",
       "upheld",
       "overturned"
      ]
     },
     "ruling": {
      "type": [
       "string",
       "null"
      ],
      "format": "uuid"
     },
     "ruledOn": {
      "type": [
       "string",
       "null"
      ],
      "format": "date"
     },
     "daysOpen": {
      "type": "integer",
      "minimum": 0
     },
     "reference": {
      "type": "string"
     },
     "authority": {
      "type": "string"
     }
    }
   },
   "DueItem": {
    "type": "object",
    "required": [
     "due",
     "kind",
     "subject",
     "subjectKind",
     "jurisdiction",
     "rule",
     "detail",
     "eventId"
    ],
    "properties": {
     "due": {
      "type": "string",
      "format": "date",
      "description": "the date it fell due"
     },
     "kind": {
      "type": "string",
      "enum": [
       "secondment-overdue",
       "temporary-post-overdue",
       "level-review",
       "assessment-missing",
       "below-quota",
       "no-population",
       "public-institution",
       "fault-ruling-overdue"
      ]
     },
     "subject": {
      "type": "string",
      "description": "a worker id, a cadre id or a jurisdiction"
     },
     "subjectKind": {
      "type": "string",
      "enum": [
       "worker",
       "cadre",
       "jurisdiction"
      ]
     },
     "jurisdiction": {
      "type": [
       "string",
       "null"
      ]
     },
     "rule": {
      "type": "string"
     },
     "detail": {
      "type": "string"
     },
     "eventId": {
      "type": [
       "string",
       "null"
      ]
     }
    }
   },
   "AccessEntry": {
    "type": "object",
    "required": [
     "at",
     "reader",
     "login",
     "worker",
     "what"
    ],
    "properties": {
     "at": {
      "type": "string"
     },
     "reader": {
      "type": "string"
     },
     "login": {
      "type": "string"
     },
     "worker": {
      "type": "string"
     },
     "what": {
      "type": "string"
     }
    }
   },
   "Me": {
    "type": "object",
    "required": [
     "person",
     "role",
     "jurisdictions",
     "via"
    ],
    "properties": {
     "person": {
      "type": "string"
     },
     "role": {
      "type": "string",
      "enum": [
       "hr",
       "reviewer",
       "auditor",
       "admin"
      ]
     },
     "jurisdictions": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "via": {
      "type": "string",
      "enum": [
       "session",
       "token"
      ]
     }
    }
   },
   "ImportReport": {
    "type": "object",
    "required": [
     "id",
     "lines",
     "written",
     "duplicates"
    ],
    "properties": {
     "id": {
      "type": "string"
     },
     "lines": {
      "type": "integer"
     },
     "written": {
      "type": "integer"
     },
     "duplicates": {
      "type": "integer"
     },
     "firstPosition": {
      "type": [
       "integer",
       "null"
      ]
     },
     "warningCount": {
      "description": "Warnings beside accepted lines (a district with no population figure in force: its quota could not be checked).",
      "type": "integer"
     },
     "warnings": {
      "description": "The first few warnings, with their line numbers.",
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "line": {
         "type": "integer"
        },
        "message": {
         "type": "string"
        }
       }
      }
     }
    }
   },
   "Verification": {
    "type": "object",
    "required": [
     "verified"
    ],
    "properties": {
     "verified": {
      "type": [
       "boolean",
       "null"
      ]
     }
    }
   },
   "HeadcountLine": {
    "type": "object",
    "required": [
     "year",
     "jurisdiction",
     "headcount",
     "urbanPopulation",
     "ratioPerTenThousand",
     "quota",
     "gap",
     "standing"
    ],
    "properties": {
     "year": {
      "type": "integer"
     },
     "jurisdiction": {
      "type": "string"
     },
     "headcount": {
      "type": "integer",
      "minimum": 0
     },
     "urbanPopulation": {
      "type": [
       "integer",
       "null"
      ]
     },
     "ratioPerTenThousand": {
      "type": [
       "number",
       "null"
      ]
     },
     "quota": {
      "type": [
       "integer",
       "null"
      ]
     },
     "gap": {
      "type": [
       "integer",
       "null"
      ]
     },
     "standing": {
      "type": [
       "string",
       "null"
      ],
      "enum": [
       "below",
       "at",
       "over",
       "no-figure",
       null
      ]
     }
    }
   }
  },
  "responses": {
   "P400": {
    "description": "invalid input (the field or parameter is named)",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P401": {
    "description": "not logged in",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P403": {
    "description": "not allowed for this person (role, scope or CSRF)",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P404": {
    "description": "no such record",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P409": {
    "description": "conflict",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P413": {
    "description": "body too large",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P422": {
    "description": "refused by policy rules or the database",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P429": {
    "description": "too many failed logins",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P503": {
    "description": "database unavailable or busy; see Retry-After",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P408": {
    "description": "the upload sent nothing for a minute",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   },
   "P415": {
    "description": "not application/json, or from another site",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   }
  }
 },
 "paths": {
  "/healthz": {
   "get": {
    "summary": "The process is up",
    "security": [],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/readyz": {
   "get": {
    "summary": "Database reachable, schema current, projections caught up",
    "security": [],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "503": {
      "description": "not ready",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics",
    "security": [],
    "responses": {
     "200": {
      "description": "metrics",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "security": [],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/api/login": {
   "post": {
    "summary": "Log in with the person's database password; sets the session cookie",
    "security": [],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "user",
         "password"
        ],
        "additionalProperties": false,
        "properties": {
         "user": {
          "type": "string"
         },
         "password": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "person",
          "role",
          "csrf"
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "413": {
      "$ref": "#/components/responses/P413"
     },
     "429": {
      "$ref": "#/components/responses/P429"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "415": {
      "$ref": "#/components/responses/P415"
     }
    }
   }
  },
  "/api/logout": {
   "post": {
    "summary": "End the browser session",
    "security": [],
    "responses": {
     "204": {
      "description": "logged out"
     }
    }
   }
  },
  "/api/me": {
   "get": {
    "summary": "Who the request acts for",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Me"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/decisions": {
   "post": {
    "summary": "Record a decision (one JSON object) or several (JSON Lines), judged by the policy rules",
    "parameters": [
     {
      "name": "X-On-Behalf-Of",
      "in": "header",
      "required": false,
      "description": "a note of whom the recorder acts for",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 200
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Decision"
       }
      },
      "text/plain": {
       "schema": {
        "type": "string"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "recorded",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/Recorded"
          },
          {
           "type": "object",
           "required": [
            "recorded"
           ]
          }
         ]
        }
       }
      }
     },
     "200": {
      "description": "already recorded (nothing written)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Recorded"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "409": {
      "$ref": "#/components/responses/P409"
     },
     "413": {
      "$ref": "#/components/responses/P413"
     },
     "422": {
      "$ref": "#/components/responses/P422"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/imports": {
   "post": {
    "summary": "Import JSON Lines, all or nothing (every refused line reported)",
    "requestBody": {
     "required": true,
     "content": {
      "text/plain": {
       "schema": {
        "type": "string"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ImportReport"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "413": {
      "$ref": "#/components/responses/P413"
     },
     "422": {
      "$ref": "#/components/responses/P422"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "408": {
      "$ref": "#/components/responses/P408"
     }
    }
   },
   "get": {
    "summary": "This person's imports, with progress while they run",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/workers": {
   "get": {
    "summary": "Search by name (roles that may read names) or by the start of an id",
    "parameters": [
     {
      "name": "name",
      "in": "query",
      "required": false,
      "description": "part of a name",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "id",
      "in": "query",
      "required": false,
      "description": "the start of a worker id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object",
          "required": [
           "worker"
          ]
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/workers/{id}": {
   "get": {
    "summary": "A worker's (or temporary-post cadre's) record on a date, as known at a time",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "worker (or temporary-post cadre) id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     },
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "date (default today)",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "only what was known by then (recorded, or claimed by an import's knownSince); 404 nothing-known when the ledger knew nothing of the id then",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "oneOf": [
          {
           "$ref": "#/components/schemas/WorkerReport"
          },
          {
           "$ref": "#/components/schemas/CadreReport"
          }
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     }
    }
   }
  },
  "/api/workers/{id}/trace": {
   "get": {
    "summary": "Every decision of the record, with corrections, rescissions, rulings",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "worker (or temporary-post cadre) id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Trace"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     }
    }
   }
  },
  "/api/workers/{id}/history": {
   "get": {
    "summary": "How one attribute changed over effective and recorded time",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "worker (or temporary-post cadre) id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     },
     {
      "name": "field",
      "in": "query",
      "required": true,
      "description": "the attribute",
      "schema": {
       "type": "string",
       "enum": [
        "level",
        "post",
        "community",
        "status"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/History"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     }
    }
   }
  },
  "/api/workers/{id}/bundle": {
   "get": {
    "summary": "The record's evidence bundle (events, personal data, proofs, signed checkpoint) for dossier verify-bundle",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "worker (or temporary-post cadre) id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     },
     "409": {
      "$ref": "#/components/responses/P409"
     }
    }
   }
  },
  "/api/roster": {
   "get": {
    "summary": "Workers on the roster of a place on a date",
    "parameters": [
     {
      "name": "city",
      "in": "query",
      "required": false,
      "description": "city",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "district",
      "in": "query",
      "required": false,
      "description": "district",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "street",
      "in": "query",
      "required": false,
      "description": "street (sub-district)",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "community",
      "in": "query",
      "required": false,
      "description": "community",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "date",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "time",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     },
     {
      "name": "name",
      "in": "query",
      "required": false,
      "description": "part of a name",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "the roster",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/RosterEntry"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/eligible": {
   "get": {
    "summary": "Level-up, public-institution candidates or exit-review cases, with reasons",
    "parameters": [
     {
      "name": "for",
      "in": "query",
      "required": true,
      "description": "the list",
      "schema": {
       "type": "string",
       "enum": [
        "level-up",
        "public-institution",
        "exit-review"
       ]
      }
     },
     {
      "name": "city",
      "in": "query",
      "required": false,
      "description": "city",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "district",
      "in": "query",
      "required": false,
      "description": "district",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "street",
      "in": "query",
      "required": false,
      "description": "street (sub-district)",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "community",
      "in": "query",
      "required": false,
      "description": "community",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      }
     },
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "date",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "time",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "the list",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/RosterEntry"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/quota": {
   "get": {
    "summary": "Headcount, workers per 10,000 urban residents, quota and gap per district and city on a date, as known at a time",
    "parameters": [
     {
      "name": "jurisdiction",
      "in": "query",
      "required": false,
      "description": "CITY or CITY/DISTRICT",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 201
      }
     },
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "date",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "time",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/QuotaLine"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/reports/headcount": {
   "get": {
    "summary": "Year-end (31 December) headcounts, ratio per 10,000 urban residents, quota and gap, year by year",
    "parameters": [
     {
      "name": "from",
      "in": "query",
      "required": true,
      "description": "the first year, 1900 to 2200",
      "schema": {
       "type": "string",
       "pattern": "^[0-9]{4}$"
      }
     },
     {
      "name": "to",
      "in": "query",
      "required": true,
      "description": "the last year, 1900 to 2200, at most 99 after from",
      "schema": {
       "type": "string",
       "pattern": "^[0-9]{4}$"
      }
     },
     {
      "name": "by",
      "in": "query",
      "required": false,
      "description": "district (default; cities included) or street",
      "schema": {
       "type": "string",
       "enum": [
        "district",
        "street"
       ]
      }
     },
     {
      "name": "jurisdiction",
      "in": "query",
      "required": false,
      "description": "CITY or CITY/DISTRICT",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 201
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "time",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "one line per year and jurisdiction",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/HeadcountLine"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/exceptions": {
   "get": {
    "summary": "Decisions recorded despite a policy rule, with what later decisions did to them",
    "parameters": [
     {
      "name": "since",
      "in": "query",
      "required": false,
      "description": "only decisions effective on or after this date",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "until",
      "in": "query",
      "required": false,
      "description": "only decisions effective on or before this date",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "jurisdiction",
      "in": "query",
      "required": false,
      "description": "CITY or CITY/DISTRICT the decision was made in (a worker's: where the worker was placed on the effective date)",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 201
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv (the columns of `dossier exceptions --format csv`)",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Exception"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/places": {
   "get": {
    "summary": "The gazetteer on a date: cities, each with its districts, streets and communities (place decisions; README, Places)",
    "parameters": [
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "the date (default today)",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "knownAt",
      "in": "query",
      "required": false,
      "description": "only what was recorded by then",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Place"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/due": {
   "get": {
    "summary": "What needs attention on a date, each with its rule and the date it fell due",
    "parameters": [
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "the date (default today)",
      "schema": {
       "type": "string",
       "format": "date"
      }
     },
     {
      "name": "jurisdiction",
      "in": "query",
      "required": false,
      "description": "CITY or CITY/DISTRICT (a worker's: where the worker is placed on the date)",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 201
      }
     },
     {
      "name": "format",
      "in": "query",
      "required": false,
      "description": "json or csv",
      "schema": {
       "type": "string",
       "enum": [
        "json",
        "csv"
       ]
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/DueItem"
         }
        }
       },
       "text/csv": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/appeals": {
   "get": {
    "summary": "The appeals caseload: each appeal, what it is lodged against, days open, status and ruling",
    "parameters": [
     {
      "name": "open",
      "in": "query",
      "required": false,
      "description": "true: only appeals not yet ruled on (as of asOf)",
      "schema": {
       "type": "string",
       "enum": [
        "true",
        "false"
       ]
      }
     },
     {
      "name": "jurisdiction",
      "in": "query",
      "required": false,
      "description": "CITY or CITY/DISTRICT the worker was placed in on the day the appeal was lodged",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 201
      }
     },
     {
      "name": "asOf",
      "in": "query",
      "required": false,
      "description": "the date the caseload stands on (default today): appeals lodged and rulings effective by then",
      "schema": {
       "type": "string",
       "format": "date"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Appeal"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/access-log": {
   "get": {
    "summary": "Who read whose personal data",
    "parameters": [
     {
      "name": "worker",
      "in": "query",
      "required": false,
      "description": "worker id",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 64
      }
     },
     {
      "name": "reader",
      "in": "query",
      "required": false,
      "description": "person",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 63
      }
     },
     {
      "name": "since",
      "in": "query",
      "required": false,
      "description": "time",
      "schema": {
       "type": "string",
       "description": "YYYY-MM-DD (its end) or an ISO 8601 time"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/AccessEntry"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  },
  "/api/checkpoints/latest": {
   "get": {
    "summary": "The latest signed checkpoint",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "size",
          "root",
          "note"
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     }
    }
   }
  },
  "/api/proofs/consistency": {
   "get": {
    "summary": "An RFC 6962 consistency proof between two checkpoint sizes",
    "parameters": [
     {
      "name": "from",
      "in": "query",
      "required": true,
      "description": "older size",
      "schema": {
       "type": "integer",
       "minimum": 1
      }
     },
     {
      "name": "to",
      "in": "query",
      "required": true,
      "description": "newer size",
      "schema": {
       "type": "integer",
       "minimum": 1
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     },
     "404": {
      "$ref": "#/components/responses/P404"
     },
     "409": {
      "$ref": "#/components/responses/P409"
     }
    }
   }
  },
  "/api/verify": {
   "get": {
    "summary": "The last verification this server ran",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Verification"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   },
   "post": {
    "summary": "Verify the whole log now (as this person)",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Verification"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/P400"
     },
     "401": {
      "$ref": "#/components/responses/P401"
     },
     "403": {
      "$ref": "#/components/responses/P403"
     },
     "503": {
      "$ref": "#/components/responses/P503"
     }
    }
   }
  }
 }
}
"""#
}
