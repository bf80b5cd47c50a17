"""The JSON API described in OpenAPI 3.1, served at /api/openapi.json."""

RECORD = {
    "type": "object",
    "required": [
        "id",
        "digit",
        "confidence",
        "probabilities",
        "unsure",
        "label",
        "source",
        "filename",
        "created_at",
        "model_version",
        "url",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "time-based UUID"},
        "digit": {"type": "integer", "minimum": 0, "maximum": 9},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "probabilities": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 10,
            "maxItems": 10,
        },
        "unsure": {"type": "boolean"},
        "label": {"type": ["integer", "null"], "minimum": 0, "maximum": 9},
        "source": {"type": "string", "enum": ["canvas", "upload"]},
        "filename": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "model_version": {"type": "string"},
        "url": {"type": "string"},
    },
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    reasons = {
        400: "bad input, with the reason",
        404: "no prediction has this id",
        413: "the body is over MNIST_MAX_REQUEST_BYTES",
        415: "a content type other than multipart/form-data or JSON",
        503: "Cassandra is unavailable (reads only: predictions are spooled)",
    }
    return {
        str(code): _json({"$ref": "#/components/schemas/Error"}, reasons[code]) for code in codes
    }


RECORD_REF = {"$ref": "#/components/schemas/Record"}
ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Digit recognizer", "version": "1.0.0"},
    "paths": {
        "/api/predictions/": {
            "post": {
                "summary": "Recognise a digit and store the prediction",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["image"],
                                "properties": {
                                    "image": {"type": "string", "format": "binary"},
                                    "source": {"type": "string", "enum": ["canvas", "upload"]},
                                },
                            }
                        },
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["image"],
                                "properties": {
                                    "image": {
                                        "type": "string",
                                        "description": "a data:image/...;base64 URL or base64",
                                    },
                                    "source": {"type": "string", "enum": ["canvas", "upload"]},
                                    "filename": {"type": "string"},
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "201": _json(
                        {
                            "allOf": [
                                RECORD_REF,
                                {"type": "object", "properties": {"spooled": {"type": "boolean"}}},
                            ]
                        },
                        "the stored prediction",
                    ),
                    **_errors(400, 413, 415),
                },
            },
            "get": {
                "summary": "List predictions, newest first",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "digit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 9},
                    },
                    {
                        "name": "source",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["canvas", "upload"]},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "results": {"type": "array", "items": RECORD_REF},
                                "next_cursor": {"type": ["string", "null"]},
                                "prev_cursor": {"type": ["string", "null"]},
                            },
                        },
                        "a page of predictions",
                    ),
                    **_errors(400, 503),
                },
            },
        },
        "/api/predictions/{id}/": {
            "parameters": [ID_PARAMETER],
            "get": {
                "summary": "One prediction",
                "responses": {"200": _json(RECORD_REF, "the prediction"), **_errors(404, 503)},
            },
            "patch": {
                "summary": "Store the user's correction",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "label": {
                                        "type": ["integer", "null"],
                                        "minimum": 0,
                                        "maximum": 9,
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(RECORD_REF, "the corrected prediction"),
                    **_errors(400, 404, 415, 503),
                },
            },
        },
        "/healthz": {
            "get": {
                "summary": "Model, Cassandra and spool status",
                "responses": {
                    "200": {"description": "the model and Cassandra are fine"},
                    "503": {"description": "the model or Cassandra is down"},
                },
            }
        },
    },
    "components": {"schemas": {"Record": RECORD, "Error": ERROR}},
}
