"""The GraphQL operations the adapters send, written against Plexus's schema (Amplify Gen 2).

Names follow what each operation does; errors and logs quote them. Every list query takes
`$limit`/`$nextToken` so `PlexusClient.pages` can follow it to the end: Plexus applies `limit`
before `filter`, so a filtered page can be empty while later pages still hold matches.
"""

from __future__ import annotations

from adapters.plexus.client import Operation

_PROCEDURE_FIELDS = "id name accountId status waitingOnMessageId metadata createdAt updatedAt"

MESSAGE_FIELDS = """
  id sessionId procedureId accountId createdByUserId role content messageType humanInteraction
  metadata parentMessageId sequenceNumber responseTarget responseStatus toolName toolParameters
  toolResponse createdAt updatedAt
"""

# -- Procedure -------------------------------------------------------------------------------

GET_PROCEDURE = Operation(
    "GetProcedure",
    f"query GetProcedure($id: ID!) {{ getProcedure(id: $id) {{ {_PROCEDURE_FIELDS} }} }}",
)

CREATE_PROCEDURE = Operation(
    "CreateProcedure",
    f"""
    mutation CreateProcedure($input: CreateProcedureInput!) {{
      createProcedure(input: $input) {{ {_PROCEDURE_FIELDS} }}
    }}
    """,
)

# Both write through updateProcedure; they differ in what they change, which errors name.
UPDATE_PROCEDURE_METADATA = Operation(
    "UpdateProcedureMetadata",
    f"""
    mutation UpdateProcedureMetadata(
      $input: UpdateProcedureInput!, $condition: ModelProcedureConditionInput
    ) {{
      updateProcedure(input: $input, condition: $condition) {{ {_PROCEDURE_FIELDS} }}
    }}
    """,
)

UPDATE_PROCEDURE_STATUS = Operation(
    "UpdateProcedureStatus",
    """
    mutation UpdateProcedureStatus(
      $input: UpdateProcedureInput!, $condition: ModelProcedureConditionInput
    ) {
      updateProcedure(input: $input, condition: $condition) { id status waitingOnMessageId }
    }
    """,
)

GET_TASK_METADATA = Operation(
    "GetTaskMetadata",
    "query GetTaskMetadata($id: ID!) { getTask(id: $id) { id metadata } }",
)

# -- ChatSession -----------------------------------------------------------------------------

CREATE_CHAT_SESSION = Operation(
    "CreateChatSession",
    """
    mutation CreateChatSession($input: CreateChatSessionInput!) {
      createChatSession(input: $input) { id accountId procedureId status createdAt }
    }
    """,
)

GET_CHAT_SESSION = Operation(
    "GetChatSession",
    """
    query GetChatSession($id: ID!) {
      getChatSession(id: $id) { id accountId procedureId status createdAt }
    }
    """,
)

UPDATE_CHAT_SESSION = Operation(
    "UpdateChatSession",
    """
    mutation UpdateChatSession($input: UpdateChatSessionInput!) {
      updateChatSession(input: $input) { id status updatedAt }
    }
    """,
)

# -- ChatMessage -----------------------------------------------------------------------------

CREATE_CHAT_MESSAGE = Operation(
    "CreateChatMessage",
    f"""
    mutation CreateChatMessage($input: CreateChatMessageInput!) {{
      createChatMessage(input: $input) {{ {MESSAGE_FIELDS} }}
    }}
    """,
)

GET_CHAT_MESSAGE = Operation(
    "GetChatMessage",
    f"query GetChatMessage($id: ID!) {{ getChatMessage(id: $id) {{ {MESSAGE_FIELDS} }} }}",
)

UPDATE_CHAT_MESSAGE = Operation(
    "UpdateChatMessage",
    """
    mutation UpdateChatMessage(
      $input: UpdateChatMessageInput!, $condition: ModelChatMessageConditionInput
    ) {
      updateChatMessage(input: $input, condition: $condition) {
        id humanInteraction responseStatus createdAt
      }
    }
    """,
)

LIST_RESPONSES = Operation(
    "ListControlResponses",
    f"""
    query ListControlResponses($parentMessageId: String!, $limit: Int, $nextToken: String) {{
      listChatMessageByParentMessageId(
        parentMessageId: $parentMessageId
        filter: {{ humanInteraction: {{ eq: RESPONSE }} }}
        limit: $limit
        nextToken: $nextToken
      ) {{
        items {{ {MESSAGE_FIELDS} }}
        nextToken
      }}
    }}
    """,
)

LIST_SESSION_MESSAGES = Operation(
    "ListSessionMessages",
    f"""
    query ListSessionMessages($sessionId: String!, $limit: Int, $nextToken: String) {{
      listChatMessageBySessionIdAndCreatedAt(
        sessionId: $sessionId, sortDirection: ASC, limit: $limit, nextToken: $nextToken
      ) {{
        items {{ {MESSAGE_FIELDS} }}
        nextToken
      }}
    }}
    """,
)

# The index holds only numbered messages (a sparse index), so the first item, newest first,
# carries the highest number: one row read whatever the session's length.
LATEST_SEQUENCE_NUMBER = Operation(
    "LatestSequenceNumber",
    """
    query LatestSequenceNumber($sessionId: String!) {
      listChatMessageBySessionIdAndSequenceNumber(
        sessionId: $sessionId, sortDirection: DESC, limit: 1
      ) {
        items { id sequenceNumber }
      }
    }
    """,
)
