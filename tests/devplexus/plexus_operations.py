"""The operation texts Plexus's own runner sends, verbatim, used as test traffic.

Every one must validate against devplexus's schema and do what Plexus expects of it. They
are test data: the project's own operations are written against the schema, not copied.
"""

from __future__ import annotations

GET_PROCEDURE_METADATA = """\
query GetProcedure($id: ID!) {
    getProcedure(id: $id) {
        id
        metadata
    }
}
"""

GET_PROCEDURE_FOR_HITL = """\
query GetProcedure($id: ID!) {
    getProcedure(id: $id) {
        id
        metadata
        status
        waitingOnMessageId
    }
}
"""

UPDATE_PROCEDURE_METADATA = """\
mutation UpdateProcedureMetadata($id: ID!, $metadata: AWSJSON!) {
    updateProcedure(input: {
        id: $id
        metadata: $metadata
    }) {
        id
        name
        description
        status
        featured
        isTemplate
        code
        category
        version
        isDefault
        parentProcedureId
        waitingOnMessageId
        metadata
        createdAt
        updatedAt
        accountId
        scorecardId
        scoreId
        scoreVersionId
    }
}
"""

UPDATE_PROCEDURE_STATUS = """\
mutation UpdateProcedureStatus($id: ID!, $status: String!, $waitingOnMessageId: String) {
    updateProcedure(input: {
        id: $id
        status: $status
        waitingOnMessageId: $waitingOnMessageId
    }) {
        id
        name
        description
        status
        featured
        isTemplate
        code
        category
        version
        isDefault
        parentProcedureId
        waitingOnMessageId
        metadata
        createdAt
        updatedAt
        accountId
        scorecardId
        scoreId
        scoreVersionId
    }
}
"""

CREATE_CHAT_MESSAGE = """\
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) {
        id
        sequenceNumber
        createdAt
    }
}
"""

FIND_CONTROL_RESPONSE = """\
query FindControlResponse($parentId: String!, $limit: Int) {
    listChatMessageByParentMessageId(
        parentMessageId: $parentId
        limit: $limit
        filter: { humanInteraction: { eq: RESPONSE } }
    ) {
        items {
            id
            content
            metadata
            createdAt
            humanInteraction
            parentMessageId
        }
    }
}
"""

CANCEL_PENDING_MESSAGE = """\
mutation CancelPendingMessage($input: UpdateChatMessageInput!) {
    updateChatMessage(input: $input) {
        id
        humanInteraction
    }
}
"""

GET_PROCEDURE_ACCOUNT = """\
query GetProcedureAccount($id: ID!) {
    getProcedure(id: $id) {
        accountId
    }
}
"""

GET_PROCEDURE_WAITING_MESSAGE = """\
query GetProcedureWaitingMessage($id: ID!) {
    getProcedure(id: $id) {
        status
        waitingOnMessageId
    }
}
"""

GET_WAITING_MESSAGE_SESSION = """\
query GetWaitingMessageSession($id: ID!) {
    getChatMessage(id: $id) {
        id
        sessionId
    }
}
"""

GET_LATEST_SESSION_MESSAGES = """\
query GetLatestSessionMessages($sessionId: String!, $limit: Int) {
    listChatMessageBySessionIdAndCreatedAt(
        sessionId: $sessionId
        sortDirection: DESC
        limit: $limit
    ) {
        items {
            id
            sequenceNumber
            createdAt
        }
    }
}
"""

CREATE_CHAT_SESSION = """\
mutation CreateChatSession($input: CreateChatSessionInput!) {
    createChatSession(input: $input) {
        id
        status
        createdAt
    }
}
"""

UPDATE_CHAT_MESSAGE = """\
mutation UpdateChatMessage($input: UpdateChatMessageInput!) {
    updateChatMessage(input: $input) {
        id
        content
        humanInteraction
        metadata
    }
}
"""

UPDATE_CHAT_SESSION = """\
mutation UpdateChatSession($input: UpdateChatSessionInput!) {
    updateChatSession(input: $input) {
        id
        status
        name
        updatedAt
    }
}
"""

GET_PROCEDURE_FOR_RESUME = """\
query GetProcedure($id: ID!) {
    getProcedure(id: $id) {
        id
        status
        waitingOnMessageId
        code
    }
}
"""

FIND_RESPONSE = """\
query FindResponse($parentId: String!) {
    listChatMessageByParentMessageId(
        parentMessageId: $parentId
        filter: {
            humanInteraction: {eq: RESPONSE}
        }
        limit: 1
    ) {
        items {
            id
            createdAt
        }
    }
}
"""

LIST_WAITING_PROCEDURES = """\
query ListWaitingProcedures {
    listProcedures(
        filter: {
            status: {eq: "WAITING_FOR_HUMAN"}
        }
    ) {
        items {
            id
            waitingOnMessageId
        }
    }
}
"""

#: `plexus chat send --mode response`: the CLI responder's createChatMessage selection.
CLI_CREATE_RESPONSE = """\
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) {
        id accountId sessionId procedureId role humanInteraction messageType content
        metadata parentMessageId responseTarget responseStatus responseOwner
        responseStartedAt responseCompletedAt responseError createdAt
    }
}
"""

ALL = {name: text for name, text in globals().items() if name.isupper() and name != "ALL"}
