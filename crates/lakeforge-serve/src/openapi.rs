//! The OpenAPI 3.0 description of the server's routes (`GET /openapi.json`), written by hand
//! beside the handlers and checked against the running server by a tool that did not write it.

use serde_json::{Value, json};

pub fn spec() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err =
        |d: &str| json!({"description": d, "content": {"application/json": {"schema": error}}});
    let name =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let predict_body = json!({
        "required": true,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}
    });
    let limited = json!({"description": "Too many failed authentications from this address; retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": error}}});
    let predict_responses = json!({
        "200": {"description": "One prediction per row, in order.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}}},
        "400": err("The body is not valid JSON, or a feature is missing or of the wrong type (`field` names it)."),
        "401": err("Missing or unknown token."), "429": limited.clone(),
        "403": err("The token lacks the predict scope."),
        "404": err("No such model, version or alias."),
        "413": err("The body or the number of rows is over the limit."),
        "503": err("The request timed out."),
    });
    let secured = json!([{"bearer": []}]);
    let alias = json!({"name": "alias", "in": "path", "required": true,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}});
    let admin_only = "The token lacks the admin scope (a predict token is not enough).";
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Lakeforge model server", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Predictions from the models of a Lakeforge model registry."},
        "paths": {
            "/healthz": {"get": {"summary": "The process is up.", "operationId": "healthz",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/readyz": {"get": {"summary": "The registry has been read and the store answers.", "operationId": "readyz",
                "responses": {"200": {"description": "ready", "content": {"text/plain": {"schema": {"type": "string"}}}},
                              "503": err("Not ready yet.")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "operationId": "metrics", "security": secured,
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
                              "401": err("Missing or unknown token."), "429": limited.clone()}}},
            "/openapi.json": {"get": {"summary": "This document.", "operationId": "openapi", "security": secured,
                "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": err("Missing or unknown token."), "429": limited.clone()}}},
            "/v1/models": {"get": {"summary": "Every model with its versions and aliases.", "operationId": "listModels", "security": secured,
                "responses": {"200": {"description": "models", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
                              "401": err("Missing or unknown token."), "429": limited.clone(), "403": err("The token lacks the predict scope.")}}},
            "/v1/models/{name}": {"get": {"summary": "A model: versions, aliases, input schema and metrics.", "operationId": "getModel",
                "security": secured, "parameters": [name],
                "responses": {"200": {"description": "the model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}},
                              "400": err("The name in the path is not valid UTF-8."),
                              "401": err("Missing or unknown token."), "429": limited.clone(), "403": err("The token lacks the predict scope."),
                              "404": err("No such model.")}}},
            "/v1/models/{name}/predict": {"post": {"summary": "Predict with the production alias, or ?version= / ?alias=.",
                "operationId": "predict", "security": secured,
                "parameters": [name,
                    {"name": "version", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1}},
                    {"name": "alias", "in": "query", "required": false, "schema": {"type": "string"}}],
                "requestBody": predict_body, "responses": predict_responses}},
            "/v1/models/{name}/versions/{version}/predict": {"post": {"summary": "Predict with one version.",
                "operationId": "predictVersion", "security": secured,
                "parameters": [name, {"name": "version", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
                "requestBody": predict_body, "responses": predict_responses}},
            "/v1/models/{name}/aliases/{alias}": {
                "put": {"summary": "Point an alias at a version (as `lakeforge models promote`); the next prediction uses it.",
                    "operationId": "setAlias", "security": secured, "parameters": [name, alias],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SetAlias"}}}},
                    "responses": {
                        "200": {"description": "The alias moved.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AliasSet"}}}},
                        "400": err("The body or the alias name is invalid (`field` names it)."),
                        "401": err("Missing or unknown token."), "429": limited.clone(), "403": err(admin_only),
                        "404": err("No such model or version."),
                        "409": err("The version failed its quality gate; send `force: true` to promote it anyway."),
                        "413": err("The body is over the limit."),
                        "503": err("The metadata store did not answer.")}},
                "delete": {"summary": "Remove an alias (as `lakeforge models promote --remove`).",
                    "operationId": "removeAlias", "security": secured, "parameters": [name, alias],
                    "responses": {
                        "200": {"description": "The alias was removed.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AliasRemoved"}}}},
                        "400": err("The alias name is invalid."),
                        "401": err("Missing or unknown token."), "429": limited.clone(), "403": err(admin_only),
                        "404": err("No such model, or it has no such alias."),
                        "503": err("The metadata store did not answer.")}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "A token from `lakeforge tokens create`; required when the server listens beyond loopback or with --require-token."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}},
                "PredictRequest": {"type": "object", "additionalProperties": false,
                    "description": "Either `rows` or `columns`; features the model does not read are ignored.",
                    "properties": {
                        "rows": {"type": "array", "items": {"type": "object", "additionalProperties": true}},
                        "columns": {"type": "object", "additionalProperties": {"type": "array", "items": {}}}}},
                "PredictResponse": {"type": "object", "required": ["model", "version", "predictions"],
                    "properties": {"model": {"type": "string"}, "version": {"type": "integer"},
                        "predictions": {"type": "array", "items": {}}}},
                "SetAlias": {"type": "object", "required": ["version"], "additionalProperties": false,
                    "properties": {"version": {"type": "integer", "minimum": 1},
                        "force": {"type": "boolean", "default": false,
                                  "description": "Promote a version whose quality gate failed."}}},
                "AliasSet": {"type": "object", "required": ["model", "alias", "version", "previous"],
                    "properties": {"model": {"type": "string"}, "alias": {"type": "string"},
                        "version": {"type": "integer"},
                        "previous": {"type": "integer", "nullable": true, "description": "The version it pointed at before."}}},
                "AliasRemoved": {"type": "object", "required": ["model", "alias", "previous"],
                    "properties": {"model": {"type": "string"}, "alias": {"type": "string"},
                        "previous": {"type": "integer"}}},
                "ModelList": {"type": "object", "required": ["models"], "properties": {"models": {"type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "integer"}},
                        "aliases": {"type": "object", "additionalProperties": {"type": "integer"}}}}}}},
                "Model": {"type": "object", "required": ["name", "versions"], "properties": {
                    "name": {"type": "string"},
                    "aliases": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "versions": {"type": "array", "items": {"type": "object", "properties": {
                        "version": {"type": "integer"}, "status": {"type": "string"}, "task": {"type": "string"},
                        "aliases": {"type": "array", "items": {"type": "string"}},
                        "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
                        "inputs": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "type": {"type": "string"}}}},
                        "trained_on": {"type": "string"}, "created_at": {"type": "string"}}}}}}
            }
        }
    })
}
